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
