"""`spectssp process` end to end on phantom studies with the bundled normal database."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from atlas.analysis import Resolution
from models import BUNDLED_MODEL_DIR
from models.atypicality import AtypicalityModel
from processor.cli.main import main
from processor.phantom import make_study, write_study
from processor.pipeline import Pipeline
from tests.helpers.dicom import make_series
from tests.helpers.results import assert_valid_result, load_result
from tests.helpers.tools import require_tool

CONTRACT_KEYS = {"schema", "status", "error", "inputs", "study_instance_uid", "series_instance_uid",
                 "classification", "registration", "reference_regions", "regions", "indices", "outputs",
                 "warnings", "timings_s"}
FAST = "registration:\n  stages: [rigid, affine]\n"


def _results(out: Path) -> list[dict]:
    return [load_result(p) for p in sorted(out.glob("*/result.json"))]


@pytest.fixture(autouse=True)
def _every_result_matches_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every result the pipeline returns here, written or not, matches docs/result.schema.json."""
    process_series = Pipeline.process_series

    def checked(self, *args, **kwargs):
        return assert_valid_result(process_series(self, *args, **kwargs))

    monkeypatch.setattr(Pipeline, "process_series", checked)


def _sr_items(ds):
    for item in getattr(ds, "ContentSequence", []):
        yield item
        yield from _sr_items(item)


def test_resolution_setting_must_match_the_normal_database(tmp_path, capsys):
    study = make_study("NC", 8102)
    write_study(study, tmp_path / "in", "multiframe")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("ssp:\n  resolution_fwhm_mm: 12.0\n")
    code = main(["process", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--config", str(cfg), "-q"])
    err = capsys.readouterr().err
    assert code != 0 and "normal_db_mismatch" in err and "16 mm" in err and "12 mm" in err, err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_ad_phantom_end_to_end(tmp_path, capsys):
    study = make_study("AD", 8100, subject=None)
    files = write_study(study, tmp_path / "in" / "AD", "multiframe")
    out = tmp_path / "out"
    assert main(["process", str(tmp_path / "in" / "AD"), "--out", str(out), "-q"]) == 0
    (r,) = _results(out)
    assert CONTRACT_KEYS <= set(r)
    assert r["schema"] == "spectssp.result/1" and r["status"] == "ok" and r["error"] is None
    assert sorted(r["inputs"]) == sorted(str(f) for f in files)
    assert r["registration"]["passed"] and r["registration"]["qc"] > 0.9
    assert r["reference_regions"] == ["GLB", "THL", "PNS", "CBL"]
    reg = r["regions"]
    parietal = np.mean([reg[f"parietal_{s}"]["mean_z"] for s in "LR"])
    frontal = np.mean([reg[f"frontal_{s}"]["mean_z"] for s in "LR"])
    assert parietal > 1.5 and parietal > frontal + 1.0, (parietal, frontal)
    assert r["indices"]["severity"] > 1.0
    # harmonised to the bundled database's resolution; the estimate follows the scanner's
    res, true_fwhm = r["resolution"], study.truth["scanner"]["fwhm_mm"]
    assert res["target_fwhm_mm"] == 16.0 and abs(res["estimated_fwhm_mm"] - true_fwhm) < 3.0, (res, true_fwhm)
    assert res["kernel_fwhm_mm"] == pytest.approx(np.sqrt(max(16.0 ** 2 - res["estimated_fwhm_mm"] ** 2, 0)), abs=0.02)
    kinds = sorted(o["kind"] for o in r["outputs"])
    assert kinds.count("ssp-sheet") == 2 and "gradcam" in kinds and "sr" in kinds and "report" in kinds
    for key in ("register", "ssp", "write", "total"):
        assert r["timings_s"][key] > 0
    if r["classification"] is not None:
        c = r["classification"]
        assert c["label"] in {"AD", "DLB", "NC", "indeterminate"}
        assert abs(sum(c["probabilities"].values()) - 1) < 1e-3
    else:
        assert any("statistics only" in w for w in r["warnings"])
    source = pydicom.dcmread(files[0], stop_before_pixels=True)
    for o in r["outputs"]:
        path = Path(o["path"])
        assert path.is_file() and path.parent.parent == out / r["series_instance_uid"] or path.parent == out / r["series_instance_uid"]
        if o["sop_class_uid"]:
            ds = pydicom.dcmread(path)
            assert ds.SOPClassUID == o["sop_class_uid"]
            assert ds.StudyInstanceUID == source.StudyInstanceUID
            assert ds.SeriesInstanceUID != source.SeriesInstanceUID
            assert ds.PatientID == source.PatientID
            if o["kind"] == "sr":  # the resolution is in the report, in mm
                found = {item.ConceptNameCodeSequence[0].CodeValue: item for item in _sr_items(ds)}
                assert float(found["FWHM_EST"].MeasuredValueSequence[0].NumericValue) == pytest.approx(
                    res["estimated_fwhm_mm"], abs=0.01)
                assert found["FWHM_TARGET"].MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0].CodeValue == "mm"
    # nothing but the published folder: no staging leftovers
    assert [p.name for p in out.iterdir()] == [r["series_instance_uid"]]
    assert "ok" in capsys.readouterr().out


@pytest.mark.integration
def test_outputs_pass_dciodvfy(tmp_path):
    dciodvfy = require_tool("dciodvfy")
    study = make_study("DLB", 8101)
    write_study(study, tmp_path / "in", "slices")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(FAST)
    assert main(["process", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--config", str(cfg), "-q"]) == 0
    (r,) = _results(tmp_path / "out")
    dicoms = [o for o in r["outputs"] if o["sop_class_uid"]]
    assert len(dicoms) == 4
    for o in dicoms:
        proc = subprocess.run([dciodvfy, o["path"]], capture_output=True, text=True)
        errors = [l for l in (proc.stdout + proc.stderr).splitlines() if l.startswith("Error")]
        assert not errors, f"{o['kind']}: {errors}"


def test_mixed_inputs_every_file_accounted_once(tmp_path):
    inp = tmp_path / "in"
    files = write_study(make_study("NC", 8102), inp / "nc", "slices")
    (inp / "notes.txt").write_text("not dicom")
    [ct] = make_series(inp / "ct", 1, modality="CT")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(FAST)
    rc = main(["process", str(inp), "--out", str(tmp_path / "out"), "--config", str(cfg), "-q"])
    assert rc == 1
    results = _results(tmp_path / "out")
    by_status = sorted((r["status"], (r["error"] or {}).get("code")) for r in results)
    # the phantom's truth sidecar (nc.truth.json beside the folder) is not DICOM either
    assert by_status == [("ok", None), ("rejected", "not_dicom"), ("rejected", "not_dicom"),
                         ("rejected", "unsupported_modality")]
    seen = [p for r in results for p in r["inputs"]]
    assert len(seen) == len(set(seen))
    assert set(seen) == {str(p) for p in files} | {str(inp / "notes.txt"), str(ct), str(inp / "nc.truth.json")}


def test_registration_qc_failure_is_rejected_with_picture(tmp_path):
    study = make_study("NC", 8103)
    rng = np.random.default_rng(0)
    noise = sitk.GetImageFromArray(rng.poisson(40, sitk.GetArrayFromImage(study.image).shape).astype(np.uint16))
    noise.CopyInformation(study.image)
    study.image = noise
    write_study(study, tmp_path / "in", "multiframe")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(FAST)
    assert main(["process", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--config", str(cfg), "-q"]) == 1
    (r,) = _results(tmp_path / "out")
    assert r["status"] == "rejected" and r["error"]["code"] == "registration_failed"
    assert r["registration"]["passed"] is False
    assert Path(r["registration"]["qc_image"]).is_file()
    assert r["outputs"] == []
    # the bundled database has no site template and no member QC distribution: as before
    assert r["registration"]["template"] == "bundled" and "qc_members" not in r["registration"]
    assert r["registration"]["qc_threshold"] == 0.85 and "< 0.85" in r["error"]["message"]


def test_unwritable_output_fails_cleanly(tmp_path, capsys):
    write_study(make_study("NC", 8104), tmp_path / "in", "multiframe")
    blocker = tmp_path / "out"
    blocker.write_text("a file where the output folder should be")
    rc = main(["process", str(tmp_path / "in"), "--out", str(blocker), "-q"])
    assert rc == 1
    out = capsys.readouterr().out
    assert "[output_write_failed]" in out and "Traceback" not in out


def test_output_folder_inside_the_input_is_not_read_back(tmp_path):
    inp = tmp_path / "in"
    write_study(make_study("NC", 8105), inp / "nc", "multiframe")
    (inp / "nc.truth.json").unlink()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(FAST + "model: null\n")
    args = ["process", str(inp), "--out", str(inp / "results"), "--config", str(cfg), "-q"]
    assert main(args) == 0
    assert main(args) == 0  # the second run sees only the study, not the first run's outputs
    assert len(_results(inp / "results")) == 1


def test_resolution_warning_only_when_coarser_than_the_database():
    from processor.pipeline import resolution_warning
    assert resolution_warning(Resolution(14.0, 9.8, 16.0)) is None
    assert resolution_warning(Resolution(16.4, 0.0, 16.0)) is None
    text = resolution_warning(Resolution(18.2, 0.0, 16.0))
    assert "18.2 mm" in text and "16.0 mm" in text and "overstated" in text


def _bundled_copy_flagging_everything(dest: Path) -> Path:
    """The bundled model with its atypicality threshold lowered below any study's distance."""
    shutil.copytree(BUNDLED_MODEL_DIR, dest)
    card = json.loads((dest / "model.json").read_text())
    entry = card["atypicality"]
    model = AtypicalityModel.load(dest / entry["file"], entry["sha256"])
    raw = dataclasses.replace(model, threshold=0.01).to_bytes()
    (dest / entry["file"]).write_bytes(raw)
    entry["sha256"] = hashlib.sha256(raw).hexdigest()
    (dest / "model.json").write_text(json.dumps(card))
    return dest


def test_atypical_study_is_reported_indeterminate_everywhere(tmp_path):
    """A flagged study: label indeterminate, the warning in result.json, Yes in the SR."""
    model = _bundled_copy_flagging_everything(tmp_path / "model")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"model: {model}\n")
    files = write_study(make_study("AD", 8101, subject=None), tmp_path / "in", "multiframe")
    out = tmp_path / "out"
    assert main(["process", str(tmp_path / "in"), "--out", str(out), "--config", str(cfg), "-q"]) == 0
    (r,) = _results(out)
    c = r["classification"]
    assert c["label"] == "indeterminate" and c["atypical"]["flagged"] and c["atypical"]["threshold"] == 0.01
    assert any(w.startswith("ATYPICAL FOR THIS DATABASE") for w in r["warnings"])
    sr = next(Path(o["path"]) for o in r["outputs"] if o["kind"] == "sr")
    texts = [getattr(i, "TextValue", "") for i in _sr_items(pydicom.dcmread(sr))]
    assert any("Atypical for this normal database: yes" in t for t in texts), texts
    assert len(files) == 1


def test_stage_observer_hears_each_stage_in_order_and_cannot_fail_a_series(tmp_path):
    """What the daemon shows as a running job's stage: "read" before intake and before each
    later series, then register, ssp, classify, write for a series that gets that far. An
    observer that raises is ignored (a status display must never cost a result)."""
    from processor.config import from_dict
    from processor.pipeline import STAGES
    inp = tmp_path / "in"
    write_study(make_study("NC", 8106), inp / "nc", "multiframe")
    (inp / "nc.truth.json").unlink()
    make_series(inp / "ct", 1, modality="CT")                      # a second series, rejected at intake
    heard: list[str] = []

    def observer(stage: str) -> None:
        heard.append(stage)
        raise RuntimeError("the display is broken")

    pipe = Pipeline(from_dict({"model": None, "registration": {"stages": ["rigid", "affine"]}}))
    try:
        assert pipe.on_stage is None
        pipe.on_stage = observer
        results = pipe.process_paths([inp], tmp_path / "out")
    finally:
        pipe.close()
    assert sorted(r["status"] for r in results) == ["ok", "rejected"]
    expected = ["read"]
    for i, r in enumerate(results):
        expected += (["read"] if i else []) + (list(STAGES[1:]) if r["status"] == "ok" else [])
    assert heard == expected and STAGES == ("read", "register", "ssp", "classify", "write")


def test_a_model_trained_against_another_database_is_said_in_every_result(tmp_path):
    """The bundled network read against another database (a site's own, the supported reading):
    each result names both databases and says retraining is optional; the bundled model with
    the database it was trained against says nothing."""
    from processor.config import from_dict
    dest = tmp_path / "model"
    shutil.copytree(BUNDLED_MODEL_DIR, dest)
    card = json.loads((dest / "model.json").read_text())
    card["normal_database"]["sha256"] = "ab" * 32
    (dest / "model.json").write_text(json.dumps(card))
    warnings = {}
    for name, model in (("other", dest), ("bundled", BUNDLED_MODEL_DIR)):
        pipe = Pipeline(from_dict({"model": str(model)}))
        try:
            warnings[name] = pipe.startup_warnings
        finally:
            pipe.close()
    assert warnings["bundled"] == []
    (text,) = warnings["other"]
    assert "another normal database (abababababab)" in text and "is optional" in text, text
