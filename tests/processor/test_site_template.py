"""A site template built by ``spectssp normaldb build`` from 3 phantom normals, stored in the
.ndb and used when processing against it; relative QC in the pipeline; gross failures rejected
(real ANTs runs on 64-matrix phantoms: slow)."""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from atlas import load_atlas
from atlas.normaldb import NormalDatabase
from processor.cli.main import main
from processor.config import defaults
from processor.gross_failures import ALL
from processor.phantom import make_study, write_study
from processor.pipeline import Pipeline
from processor.registration import register
from processor.registration_qc import judge
from processor.site_template import mirror_lr
from tests.helpers.results import assert_valid_result, load_result

pytestmark = pytest.mark.slow
FAST = "registration:\n  stages: [rigid, affine]\n"


@pytest.fixture(autouse=True)
def _every_result_matches_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    process_series = Pipeline.process_series

    def checked(self, *args, **kwargs):
        return assert_valid_result(process_series(self, *args, **kwargs))

    monkeypatch.setattr(Pipeline, "process_series", checked)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """3 normals -> a site database (1 round, symmetric); a held-out normal study on disk."""
    root = tmp_path_factory.mktemp("site")
    assert main(["phantom", "--out", str(root / "nc"), "--label", "NC", "--count", "3", "--seed", "31",
                 "--matrix", "64", "-q"]) == 0
    held = make_study("NC", 32)
    write_study(held, root / "held" / "NC_32_0")   # its truth sidecar lies beside it, in held/
    (root / "fast.yaml").write_text(FAST)
    ndb = root / "site.ndb"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):   # the folder holds the 3 studies and their truth sidecars
        rc = main(["normaldb", "build", str(root / "nc"), "--out", str(ndb), "--config", str(root / "fast.yaml"),
                   "--template-rounds", "1", "--symmetric-template"])
    # the sidecars are not DICOM: said apart from the series (rc 1: not every input was a member)
    assert rc == 1 and "3 members" in printed.getvalue(), printed.getvalue()
    assert "0 series left out, 3 non-DICOM file(s) ignored" in printed.getvalue(), printed.getvalue()
    return root, ndb, held


def _process(root: Path, ndb: Path, inputs: Path, out: Path, registration: str = "") -> dict:
    cfg = root / f"{out.name}.yaml"
    cfg.write_text(FAST + registration + f"normal_database: {ndb}\nmodel: null\n")
    main(["process", str(inputs), "--out", str(out), "--config", str(cfg), "-q"])
    (r,) = [load_result(p) for p in out.glob("*/result.json")]
    return r


def test_the_site_template_is_stored_with_its_members_qc(site, capsys):
    _, ndb_path, _ = site
    ndb = NormalDatabase.load(ndb_path, volumes=False)
    atlas = load_atlas()
    assert ndb.template is not None and ndb.template.shape == atlas.shape and ndb.template_kind == "site"
    assert ndb.meta["template"] == {"rounds": 1, "symmetric": True, "series": 3, "averaged": 3,
                                    "qc_floor": defaults().registration.qc_floor}
    np.testing.assert_allclose(ndb.template, mirror_lr(ndb.template, atlas), atol=2e-3)
    qc = ndb.member_qc()
    assert qc is not None and len(qc) == 3 and qc.min() > 0.9   # against the stored template itself
    # the site template is the members' pattern in atlas space: it still looks like the bundled one
    assert np.corrcoef(ndb.template[atlas.brain], atlas.template[atlas.brain])[0, 1] > 0.9


def test_processing_against_the_site_database_registers_to_its_template(site, tmp_path):
    root, ndb, _ = site
    r = _process(root, ndb, root / "held" / "NC_32_0", tmp_path / "out")
    reg = r["registration"]
    assert r["status"] == "ok" and reg["passed"] and reg["template"] == "site"
    assert "site template" in reg["transform"]
    m = reg["qc_members"]
    members = NormalDatabase.load(ndb, volumes=False).member_qc()
    assert m["n"] == 3 and m["min"] == pytest.approx(members.min(), abs=1e-4)
    assert reg["qc_threshold"] == m["reject_below"] and "qc_image" not in reg
    sr = next(pydicom.dcmread(o["path"]) for o in r["outputs"] if o["kind"] == "sr")
    codes = {item.ConceptNameCodeSequence[0].CodeValue: item for item in _items(sr)
             if "ConceptNameCodeSequence" in item}
    assert {"REG_QC", "REG_QC_NDB_MIN", "REG_QC_NDB_MAX", "REG_QC_NDB_PCT", "REG_QC_REJECT"} <= set(codes)
    value = codes["REG_QC_NDB_PCT"].MeasuredValueSequence[0].NumericValue
    assert float(value) == pytest.approx(m["percentile"], abs=0.01)


def _items(ds):
    for item in getattr(ds, "ContentSequence", []):
        yield item
        yield from _items(item)


def test_a_study_below_the_members_range_is_flagged_and_one_far_below_rejected(site, tmp_path):
    """The members' QC values raised in a copy of the database: the same study is then flagged
    (warning, QC picture, still processed); with a smaller reject margin, rejected."""
    root, ndb_path, _ = site
    ndb = NormalDatabase.load(ndb_path)
    r_study = _process(root, ndb_path, root / "held" / "NC_32_0", tmp_path / "plain")["registration"]["qc"]
    for m in ndb.meta["members"]:
        m["qc"] = r_study + 0.03    # the study 0.03 below the members' minimum
    copy = tmp_path / "raised.ndb"
    ndb.save(copy)
    tight = "  qc_warn_margin: 0.01\n  qc_reject_margin: 0.02\n"
    for name, margins, status in (("flag", "", "ok"), ("reject", tight, "rejected")):
        r = _process(root, copy, root / "held" / "NC_32_0", tmp_path / name, margins)
        assert r["status"] == status, r["error"]
        assert Path(r["registration"]["qc_image"]).is_file()
        if status == "ok":
            assert r["registration"]["passed"] and any("members' range" in w for w in r["warnings"])
        else:
            assert r["error"]["code"] == "registration_failed" and "members" in r["error"]["message"]


def test_gross_failures_are_rejected_against_the_bundled_and_the_site_template(site):
    """Flipped, truncated and non-brain volumes with the default registration: below the
    default floor against either template (so rejected under either rule)."""
    _, ndb_path, held = site
    ndb = NormalDatabase.load(ndb_path, volumes=False)
    atlas = load_atlas()
    rc = defaults().registration
    kw = dict(stages=rc.stages, threads=rc.threads, seed=rc.seed, profile=rc.profile)
    rule = dict(absolute=rc.qc_threshold, floor=rc.qc_floor, warn_margin=rc.qc_warn_margin,
                reject_margin=rc.qc_reject_margin)
    seen = {}
    for name, fn in ALL.items():
        image = fn(held.image)
        bundled = register(image, atlas, **kw).qc
        own = register(image, atlas, template=ndb.template, **kw).qc
        seen[name] = (round(bundled, 3), round(own, 3))
        assert not judge(bundled, None, **rule).passed
        assert not judge(own, ndb.member_qc(), **rule).passed
        assert max(bundled, own) < rc.qc_floor
    print(json.dumps(seen))


def test_info_names_the_site_template_and_the_qc_rule(site, capsys):
    _, ndb_path, _ = site
    capsys.readouterr()
    assert main(["normaldb", "info", str(ndb_path)]) == 0
    out = capsys.readouterr().out
    assert "template:    site (1 rounds, symmetric, 3 series averaged); members' QC r 0.9" in out
