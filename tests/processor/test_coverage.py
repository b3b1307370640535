"""Field-of-view coverage: phantoms cut below (cerebellum), above (vertex) and at one side
(a temporal pole) are rejected naming the part; a whole-head study is processed as before."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from atlas import load_atlas
from atlas.coverage import part_masks
from processor import pipeline as pipeline_module
from processor.cli.main import main
from processor.coverage import judge_coverage, measure_coverage
from processor.phantom import PhantomStudy, ScannerOptions, make_study, write_study
from processor.registration import intensity_normalise, qc_correlation, register
from spectssp.errors import ErrorCode, SpectSSPError
from tests.helpers.results import assert_valid_result, load_result

REFS = ["GLB", "THL", "PNS", "CBL"]
FAST = "registration:\n  stages: [rigid, affine]\n"
# no pose: the scanner's axes are the atlas's, so a cut at an MNI coordinate is a crop of slices
UPRIGHT = ScannerOptions(matrix=64, max_rotation_deg=0.0, max_shift_mm=0.0)


@pytest.fixture(scope="module")
def atlas():
    return load_atlas()


@pytest.fixture(scope="module")
def study():
    return make_study("NC", 8300, scanner=UPRIGHT)


def cut(study: PhantomStudy, axis: int, mni_ras_mm: float, keep_above: bool) -> PhantomStudy:
    """The study with its field of view cut at RAS coordinate ``mni_ras_mm`` along ``axis``
    (0 x, 1 y, 2 z), keeping the part above (or below) it: a smaller scanner grid, as a shorter
    or off-centre acquisition would have."""
    img = study.image
    pose = np.array(study.truth["scanner"]["pose_mni_lps_to_scanner_lps"])
    sign = -1.0 if axis < 2 else 1.0                       # RAS -> LPS
    point = np.zeros(3)
    point[axis] = sign * mni_ras_mm
    k = int(round(img.TransformPhysicalPointToContinuousIndex((pose[:3, :3] @ point + pose[:3, 3]).tolist())[axis]))
    ras_grows_with_index = sign * img.GetDirection()[4 * axis] > 0
    lo, hi = [0, 0, 0], list(img.GetSize())
    if keep_above == ras_grows_with_index:
        lo[axis] = k
    else:
        hi[axis] = k
    cropped = img[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    truth = json.loads(json.dumps(study.truth))
    truth["scanner"]["n_slices"] = int(cropped.GetSize()[2])
    return PhantomStudy(cropped, truth)


CUTS = {   # what is cut, and the part a reader must be told about
    "cerebellum": ((2, -40.0, True), "the cerebellum"),
    "vertex": ((2, 60.0, False), "the vertex"),
    "temporal_pole_L": ((0, -40.0, True), "the left temporal pole"),
}


def test_parts_are_where_anatomy_puts_them(atlas):
    masks = part_masks(atlas)
    z = {k: atlas.world_mm(np.argwhere(m))[:, 2].mean() for k, m in masks.items()}
    x = {k: atlas.world_mm(np.argwhere(m))[:, 0].mean() for k, m in masks.items()}
    assert z["vertex"] > 60 and z["cerebellum"] < -20 and -50 < z["temporal_pole_L"] < 0
    assert x["temporal_pole_L"] < -25 and x["temporal_pole_R"] > 25
    assert all(m.sum() > 200 for m in masks.values())


def test_fov_on_the_atlas_grid_gives_fractions_per_part_and_reference(atlas):
    fov = np.ones(atlas.shape, np.float32)
    full = measure_coverage(fov, atlas, REFS)
    assert set(full) == {"cerebellum", "vertex", "temporal_pole_L", "temporal_pole_R", *REFS}
    assert all(v == 1.0 for v in full.values())
    # everything below RAS z = -30 outside: the cerebellum mostly, the vertex not at all
    k = int((-30 - atlas.affine[2, 3]) / atlas.affine[2, 2])
    fov[:, :, :k] = 0.0
    low = measure_coverage(fov, atlas, REFS)
    assert low["cerebellum"] < 0.5 and low["vertex"] == 1.0 and low["THL"] == 1.0 and low["CBL"] == low["cerebellum"]


def test_judgement_names_each_missing_part_and_the_usable_references():
    cov = {"cerebellum": 0.38, "vertex": 1.0, "temporal_pole_L": 0.6, "temporal_pole_R": 0.9,
           "GLB": 0.9, "THL": 1.0, "PNS": 0.5, "CBL": 0.38}
    with pytest.raises(SpectSSPError) as err:
        judge_coverage(cov, REFS, max_outside=0.25, warn_outside=0.02)
    msg = err.value.message
    assert err.value.code is ErrorCode.INCOMPLETE_COVERAGE and err.value.code.status == "rejected"
    assert "the cerebellum (62% of its volume outside)" in msg and "the left temporal pole (40%" in msg
    assert "right temporal pole" not in msg and "vertex" not in msg
    assert "reference regions still inside it: GLB, THL" in msg


def test_partial_reference_coverage_is_a_warning_per_region():
    cov = {"cerebellum": 0.9, "vertex": 0.8, "temporal_pole_L": 1.0, "temporal_pole_R": 1.0,
           "GLB": 0.95, "THL": 1.0, "PNS": 1.0, "CBL": 0.9}
    warnings = judge_coverage(cov, REFS, max_outside=0.25, warn_outside=0.02)
    assert len(warnings) == 2 and "GLB reference region (5% of its volume outside)" in warnings[0]
    assert "CBL reference region (10%" in warnings[1]
    assert judge_coverage({k: 1.0 for k in cov}, REFS, 0.25, 0.02) == []


@pytest.mark.parametrize("part", list(CUTS))
def test_each_cut_is_rejected_naming_the_part(part, study, atlas):
    (axis, at, above), words = CUTS[part]
    small = cut(study, axis, at, above)
    assert small.image.GetSize()[axis] < study.image.GetSize()[axis]
    reg = register(small.image, atlas, ["rigid", "affine"], threads=2, seed=1)
    assert reg.qc > 0.85   # the registration itself is fine: only the field of view is short
    cov = measure_coverage(reg.fov, atlas, REFS)
    assert cov[part] < 0.75, cov
    with pytest.raises(SpectSSPError) as err:
        judge_coverage(cov, REFS, max_outside=0.25, warn_outside=0.02)
    assert err.value.code is ErrorCode.INCOMPLETE_COVERAGE and words in err.value.message


def test_the_whole_head_is_covered(study, atlas):
    reg = register(study.image, atlas, ["rigid", "affine"], threads=2, seed=1)
    # QC over the brain inside the field of view: here the whole brain mask, as before
    assert reg.qc == qc_correlation(intensity_normalise(reg.volume), atlas.template, atlas.brain)
    cov = measure_coverage(reg.fov, atlas, REFS)
    assert min(cov.values()) == 1.0, cov
    assert judge_coverage(cov, REFS, 0.25, 0.02) == []


def _process(tmp_path: Path, folder: Path, extra: str = "") -> tuple[dict, Path]:
    cfg = tmp_path / f"c{len(extra)}.yaml"
    cfg.write_text(FAST + "model: null\n" + extra)
    out = tmp_path / f"out{len(extra)}"
    main(["process", str(folder), "--out", str(out), "--config", str(cfg), "-q"])
    (path,) = sorted(out.glob("*/result.json"))
    return assert_valid_result(load_result(path)), path.parent


@pytest.mark.slow
def test_cut_study_end_to_end_and_a_full_one_unchanged(tmp_path, study, monkeypatch):
    write_study(cut(study, *CUTS["cerebellum"][0]), tmp_path / "cut", "multiframe")
    r, _ = _process(tmp_path, tmp_path / "cut")
    assert r["status"] == "rejected" and r["error"]["code"] == "incomplete_coverage", r["error"]
    assert "the cerebellum" in r["error"]["message"] and r["coverage"]["cerebellum"] < 0.75
    assert r["regions"] == {} and r["outputs"] == []

    # one registration for both runs (ANTs with several threads is not bit-reproducible), so
    # that any difference is the coverage check's
    registered = {}

    def once(image, *args, **kwargs):
        if "r" not in registered:
            registered["r"] = register(image, *args, **kwargs)
        return registered["r"]

    monkeypatch.setattr(pipeline_module, "register", once)
    write_study(study, tmp_path / "full", "multiframe")
    checked, checked_dir = _process(tmp_path, tmp_path / "full")
    unchecked, unchecked_dir = _process(tmp_path, tmp_path / "full", "coverage:\n  enabled: false\n")
    assert checked["status"] == "ok" and min(checked["coverage"].values()) == 1.0
    assert "coverage" not in unchecked
    # the settings differ (coverage.enabled), so does the hash of the settings that shape a result
    assert checked["hashes"].pop("config") != unchecked["hashes"].pop("config")
    for r in (checked, unchecked):
        r.pop("timings_s")
        r.pop("coverage", None)
        r["outputs"] = [Path(o["path"]).name.split("_")[0] for o in r["outputs"]]   # SOP UIDs in names
    assert checked == unchecked
    for png in ("ssp_decrease.png", "ssp_increase.png", "cnn_views.png"):
        assert (checked_dir / png).read_bytes() == (unchecked_dir / png).read_bytes()
