"""``spectssp normaldb build --strict``: a series that fails registration QC means no database."""
from __future__ import annotations

from processor.cli.main import main


def test_strict_writes_nothing_when_a_series_fails_registration_qc(tmp_path, capsys):
    assert main(["phantom", "--out", str(tmp_path / "nc"), "--label", "NC", "--count", "1", "--seed", "3",
                 "--matrix", "64", "-q"]) == 0
    cfg = tmp_path / "strict.yaml"
    cfg.write_text("registration:\n  qc_threshold: 0.9999\n")   # no phantom correlates this well
    out = tmp_path / "site.ndb"
    study = next(p for p in (tmp_path / "nc").iterdir() if p.is_dir())   # not the truth sidecar beside it
    rc = main(["normaldb", "build", str(study), "--out", str(out), "--strict", "--config", str(cfg)])
    text = capsys.readouterr()
    assert rc != 0 and not out.exists()
    assert "registration_failed" in text.out + text.err and "no database written" in text.out + text.err


def test_a_member_whose_qc_is_an_outlier_is_left_out_and_recorded(tmp_path, capsys, monkeypatch):
    """11 phantom normals, registration replaced by the atlas template with set QC values (the
    rule, not ANTs, is under test): the one far below the others is left out of the site
    template's average and of the database, named with its value, recorded in the meta; with
    --strict, no database."""
    import numpy as np

    import processor.cli.normaldb_build as build
    import processor.site_template as site_template
    from atlas import load_atlas
    from atlas.normaldb import NormalDatabase
    from processor.registration import Registered

    assert main(["phantom", "--out", str(tmp_path / "nc"), "--label", "NC", "--count", "11", "--seed", "5",
                 "--matrix", "64", "-q"]) == 0
    atlas = load_atlas()
    qc_of: dict[int, float] = {}

    def fake_register(image, atlas_, *args, **kwargs):
        if id(image) not in qc_of:   # the same series has the same QC in every pass
            qc_of[id(image)] = 0.75 if not qc_of else 0.95 + 0.004 * (len(qc_of) - 1)
        return Registered(atlas.template.astype(np.float32), qc_of[id(image)], "fake")

    monkeypatch.setattr(build, "register", fake_register)
    monkeypatch.setattr(site_template, "register", fake_register)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("ssp:\n  resolution_fwhm_mm: null\n")
    out = tmp_path / "site.ndb"
    rc = main(["normaldb", "build", str(tmp_path / "nc"), "--out", str(out), "--config", str(cfg),
               "--template-rounds", "1"])
    printed = capsys.readouterr()
    text = printed.out
    assert rc == 1, text + printed.err
    ndb = NormalDatabase.load(out, volumes=False)
    (left,) = ndb.meta["qc_left_out"]
    assert left["qc"] == 0.75 and ndb.n == 10 and left["series_uid"] not in {m["series_uid"] for m in ndb.meta["members"]}
    assert f"left out  {left['series_uid']}  of round 1's average: QC r=0.750" in text
    assert f"left out  {left['series_uid']}  [registration_failed] QC r=0.750 is an outlier" in text
    assert "averaged 10 of 11 series" in text and f"1 as QC outliers: {left['series_uid']} r=0.750" in text
    assert ndb.meta["template"]["averaged"] == 10 and ndb.member_qc().min() == 0.95 and ndb.member_qc().max() == 0.986
    assert main(["normaldb", "info", str(out)]) == 0
    assert f"QC outliers: left out at build: {left['series_uid']} r=0.750" in capsys.readouterr().out
    strict = tmp_path / "strict.ndb"
    for sidecar in (tmp_path / "nc").glob("*.truth.json"):   # not DICOM: --strict would refuse them first
        sidecar.unlink()
    qc_of.clear()   # the series are read again: new images
    assert main(["normaldb", "build", str(tmp_path / "nc"), "--out", str(strict), "--config", str(cfg),
                 "--template-rounds", "1", "--strict"]) != 0
    printed = capsys.readouterr()
    assert not strict.exists() and "left out as QC outliers (--strict)" in printed.out + printed.err
    assert "without --strict they are left out and the rest are used" in printed.out + printed.err
