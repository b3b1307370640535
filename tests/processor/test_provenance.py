"""A normal database records what its Z maps depend on; a configuration (or software) that
differs in any of them stops the pipeline at start-up with a sentence naming the setting."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from atlas import load_atlas

from atlas.load import BUNDLED_NORMAL_DATABASE
from atlas.normaldb import NormalDatabase
from atlas.normaldb_build import NormalDatabaseBuilder
from processor.cli.main import main
from processor.config import load_config
from processor.pipeline import Pipeline
from processor.provenance import check_provenance, compatible
from spectssp import __version__
from spectssp.errors import ErrorCode, SpectSSPError

STAGES = ["rigid", "affine", "syn"]   # the config default


@pytest.fixture(scope="module")
def bundled() -> NormalDatabase:
    return NormalDatabase.load(BUNDLED_NORMAL_DATABASE, volumes=False)


def database(tmp_path, bundled, **meta) -> str:
    """A copy of the bundled database with ``meta`` changed (None: the key removed); its path."""
    changed = dict(bundled.meta, registration_stages=STAGES, software=f"spectssp {__version__}")
    for k, v in meta.items():
        if v is None:
            changed.pop(k, None)
        else:
            changed[k] = v
    path = tmp_path / "db.ndb"
    NormalDatabase(bundled.raw_ssp, bundled.ref_means, None, changed, list(bundled.references)).save(path)
    return str(path)


def pipeline(tmp_path, db: str, extra: str = "") -> Pipeline:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"normal_database: {db}\nmodel: null\n{extra}")
    p = Pipeline(load_config(cfg))
    p.close()
    return p


# one case per recorded setting: database metadata, configuration, words the sentence must hold
MISMATCHES = {
    "atlas hash": ({"atlas_sha256": "0" * 64}, "", ["another atlas version"]),
    "SSP depth": ({"depth_mm": 10.0}, "", ["SSP depth 10.0 mm", "ssp.depth_mm is 13.5"]),
    "harmonised resolution": ({"resolution_fwhm_mm": 12.0}, "", ["12 mm", "ssp.resolution_fwhm_mm is 16 mm"]),
    "registration stages": ({"registration_stages": ["rigid", "affine"]}, "",
                            ["stages rigid -> affine", "registration.stages is rigid -> affine -> syn"]),
    "registration stages (config)": ({}, "registration:\n  stages: [affine, syn]\n",
                                     ["stages rigid -> affine -> syn", "registration.stages is affine -> syn"]),
    "software version": ({"software": "spectssp 97.0.0"}, "", ["spectssp 97.0.0", "not comparable"]),
}


@pytest.mark.parametrize("case", list(MISMATCHES))
def test_each_recorded_setting_that_differs_stops_start_up(case, tmp_path, bundled):
    meta, extra, words = MISMATCHES[case]
    with pytest.raises(SpectSSPError) as err:
        pipeline(tmp_path, database(tmp_path, bundled, **meta), extra)
    assert err.value.code is ErrorCode.NORMAL_DB_MISMATCH
    for w in words:
        assert w in err.value.message, err.value.message


def test_a_database_that_matches_starts_without_notes(tmp_path, bundled, caplog):
    with caplog.at_level(logging.WARNING, logger="processor.provenance"):
        p = pipeline(tmp_path, database(tmp_path, bundled))
    assert p.ndb.registration_stages == STAGES and not caplog.records


def test_an_old_database_is_not_guessed_but_said_unchecked(tmp_path, bundled, caplog):
    db = database(tmp_path, bundled, registration_stages=None, software=None)
    with caplog.at_level(logging.WARNING, logger="processor.provenance"):
        pipeline(tmp_path, db, "registration:\n  stages: [rigid, affine]\n")
    text = caplog.text
    assert "does not record its registration stages" in text and "does not record its software version" in text
    # the bundled database is such an old one: it keeps working with any stages
    assert check_provenance(bundled, load_config(None), "bundled")[0].endswith("not checked")


def test_versions_compare_by_semantic_versioning():
    assert compatible("0.1.0", "0.1.7") and not compatible("0.1.0", "0.2.0")
    assert compatible("1.2.0", "1.9.1") and not compatible("1.2.0", "2.0.0")
    assert compatible("0.1.0", "0.0.0+src")   # a source tree cannot be judged


def test_process_reports_the_mismatch_before_any_study(tmp_path, bundled, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"normal_database: {database(tmp_path, bundled)}\nmodel: null\n"
                   "registration:\n  stages: [rigid, affine]\n")
    (tmp_path / "in").mkdir()
    code = main(["process", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--config", str(cfg), "-q"])
    err = capsys.readouterr().err
    assert code != 0 and "normal_db_mismatch" in err and "registration.stages is rigid -> affine" in err, err


def test_normaldb_build_records_stages_and_profile():
    atlas = load_atlas()
    b = NormalDatabaseBuilder(atlas, 13.5, "IMP", keep_volumes=False, registration_stages=["rigid", "affine"],
                              registration_profile="spect")
    vol = atlas.template.astype(np.float32)
    for i in range(3):
        b.add(vol * (1 + 0.01 * i), {"series_uid": str(i)})
    meta = b.build().meta
    assert meta["registration_stages"] == ["rigid", "affine"] and meta["registration_profile"] == "spect"
    assert meta["software"] == f"spectssp {__version__}"
