"""Result series UIDs depend on the source series, the normal database and the model: the same
study processed again with the same ones lands in the same result series, with another database
or model in new ones; the SR names the hashes of both."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from atlas.load import BUNDLED_NORMAL_DATABASE
from atlas.normaldb import NormalDatabase
from processor.cli.main import main
from processor.outputs import _series_uid
from processor.phantom import ScannerOptions, make_study, write_study

FAST = "registration:\n  stages: [rigid, affine]\n"


def test_series_uid_depends_on_each_input():
    base = _series_uid("1.2.3", "sr", "a" * 64, "b" * 64)
    assert base == _series_uid("1.2.3", "sr", "a" * 64, "b" * 64)
    others = {_series_uid("1.2.4", "sr", "a" * 64, "b" * 64), _series_uid("1.2.3", "gradcam", "a" * 64, "b" * 64),
              _series_uid("1.2.3", "sr", "c" * 64, "b" * 64), _series_uid("1.2.3", "sr", "a" * 64, "c" * 64),
              _series_uid("1.2.3", "sr", "a" * 64, None)}
    assert base not in others and len(others) == 5


def _run(tmp_path: Path, folder: Path, name: str, db: str, model: str) -> tuple[dict[str, str], str]:
    """Process ``folder``; its result series UIDs by modality and series number, and the SR's text."""
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(f"{FAST}normal_database: {db}\nmodel: {model}\n")
    out = tmp_path / name
    assert main(["process", str(folder), "--out", str(out), "--config", str(cfg), "-q"]) == 0
    uids, sr = {}, ""
    for f in sorted(out.glob("*/dicom/*.dcm")):
        ds = pydicom.dcmread(f)
        uids[f"{ds.Modality} {ds.SeriesNumber}"] = ds.SeriesInstanceUID
        if ds.Modality == "SR":
            sr = f.read_bytes().decode("latin-1")   # the algorithm parameters sit deep in the content tree
    assert len(uids) == 3, uids
    return uids, sr


@pytest.mark.slow
def test_another_database_or_model_gives_new_series_and_the_sr_names_both(tmp_path):
    write_study(make_study("NC", 8302, scanner=ScannerOptions(matrix=64)), tmp_path / "in", "multiframe")
    bundled = NormalDatabase.load(BUNDLED_NORMAL_DATABASE, volumes=False)
    other = NormalDatabase(bundled.raw_ssp * np.float32(1.001), bundled.ref_means, None, dict(bundled.meta),
                           list(bundled.references))
    other.save(tmp_path / "other.ndb")
    assert other.sha256() != bundled.sha256()

    first, sr = _run(tmp_path, tmp_path / "in", "a", "bundled", "null")
    again, _ = _run(tmp_path, tmp_path / "in", "b", "bundled", "null")
    other_db, sr_other = _run(tmp_path, tmp_path / "in", "c", str(tmp_path / "other.ndb"), "null")
    with_model, sr_model = _run(tmp_path, tmp_path / "in", "d", "bundled", "bundled")
    assert again == first   # idempotent: the same study, database and model
    for changed in (other_db, with_model):
        assert changed.keys() == first.keys() and not set(changed.values()) & set(first.values())
    assert f"normal database sha256: {bundled.sha256()}" in sr
    assert f"normal database sha256: {other.sha256()}" in sr_other
    assert f"normal database sha256: {bundled.sha256()}" in sr_model and "model card sha256: " in sr_model
