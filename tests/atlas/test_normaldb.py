"""Normal database: file round trip, member removal, leave-one-out maps, builder."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from atlas import load_atlas
from atlas.normaldb import REFERENCES, SCHEMA, NormalDatabase
from atlas.normaldb_build import NormalDatabaseBuilder
from spectssp.core.ssp import extract_ssp
from spectssp.core.zscore import decrease_z, leave_one_out_z


def _db(n: int = 6, p: int = 40, v: int | None = 25, seed: int = 0) -> NormalDatabase:
    rng = np.random.default_rng(seed)
    raw = (100 * (1 + 0.05 * rng.standard_normal((n, p)))).astype(np.float32)
    means = (rng.uniform(60, 90, (n, len(REFERENCES)))).astype(np.float32)
    vols = None if v is None else rng.uniform(0, 1.5, (n, v)).astype(np.float16)
    meta = {"tracer": "123I-IMP", "depth_mm": 13.5, "members": [{"uid": f"1.2.{i}"} for i in range(n)]}
    return NormalDatabase(raw, means, vols, meta)


def test_stats_are_over_normalised_members():
    db = _db()
    norm = db.normalised()
    assert norm.shape == (db.n, len(REFERENCES), db.raw_ssp.shape[1])
    np.testing.assert_allclose(norm[2, 1], db.raw_ssp[2] / db.ref_means[2, 1], rtol=1e-6)
    np.testing.assert_allclose(db.mean, norm.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(db.sd, norm.std(axis=0, ddof=1), rtol=1e-5)


@pytest.mark.parametrize("with_volumes", [True, False])
def test_save_load_round_trip(tmp_path, with_volumes):
    db = _db(v=25 if with_volumes else None)
    path = tmp_path / "sub" / "site.ndb"
    db.save(path)
    back = NormalDatabase.load(path)
    np.testing.assert_array_equal(back.raw_ssp, db.raw_ssp)
    np.testing.assert_array_equal(back.ref_means, db.ref_means)
    if with_volumes:
        np.testing.assert_array_equal(back.volumes, db.volumes)
    else:
        assert back.volumes is None
    assert back.references == db.references
    assert back.tracer == "123I-IMP"
    assert back.meta["members"] == db.meta["members"]
    assert back.meta["schema"] == SCHEMA and back.meta["n"] == db.n
    np.testing.assert_allclose(back.mean, db.mean)
    np.testing.assert_allclose(back.sd, db.sd)
    assert back.sha256() == db.sha256()
    # no temporary file left beside it
    assert sorted(p.name for p in path.parent.iterdir()) == ["site.ndb"]


def test_save_is_atomic_when_the_rename_fails(tmp_path, monkeypatch):
    path = tmp_path / "site.ndb"
    _db(seed=1).save(path)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        _db(seed=2).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before          # the old database is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["site.ndb"]  # and no temp file is left


@pytest.mark.parametrize("content", [b"", b"garbage, not an npz", b"PK\x03\x04truncated zip"])
def test_corrupt_file_gives_value_error_with_a_sentence(tmp_path, content):
    path = tmp_path / "bad.ndb"
    path.write_bytes(content)
    with pytest.raises(ValueError) as exc:
        NormalDatabase.load(path)
    msg = str(exc.value)
    assert str(path) in msg and "normal database" in msg
    assert "\n" not in msg


def test_truncated_database_gives_value_error(tmp_path):
    path = tmp_path / "site.ndb"
    _db().save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="normal database"):
        NormalDatabase.load(path)


def test_npz_of_another_kind_is_rejected(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, raw_ssp=np.ones((3, 4)))
    with pytest.raises(ValueError, match="normal database"):
        NormalDatabase.load(path)


def test_missing_file_gives_value_error(tmp_path):
    with pytest.raises(ValueError, match="normal database"):
        NormalDatabase.load(tmp_path / "nope.ndb")


def test_without_removes_exactly_one_member():
    db = _db(n=6)
    k = 2
    w = db.without(k)
    assert w.n == 5 and w.meta["n"] == 5
    np.testing.assert_array_equal(w.raw_ssp, np.delete(db.raw_ssp, k, axis=0))
    np.testing.assert_array_equal(w.ref_means, np.delete(db.ref_means, k, axis=0))
    np.testing.assert_array_equal(w.volumes, np.delete(db.volumes, k, axis=0))
    rest = np.delete(db.normalised(), k, axis=0)
    np.testing.assert_allclose(w.mean, rest.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(w.sd, rest.std(axis=0, ddof=1), rtol=1e-5)
    assert db.n == 6  # the original is unchanged


def test_loo_z_matches_core_and_member_removal():
    db = _db(n=7, p=60)
    loo = db.loo_z()
    np.testing.assert_allclose(loo, leave_one_out_z(db.normalised()), rtol=1e-6)
    norm = db.normalised()
    for k in (0, 3, 6):
        w = db.without(k)
        np.testing.assert_allclose(loo[k], decrease_z(norm[k], w.mean, w.sd), rtol=1e-3, atol=1e-3)


# --- builder on synthetic volumes on the atlas grid -------------------------------------------

@pytest.fixture(scope="module")
def atlas():
    return load_atlas()


def _member_volume(atlas, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vol = atlas.template.astype(np.float32) * rng.uniform(50, 150)
    vol *= (1 + 0.03 * rng.standard_normal(atlas.shape)).astype(np.float32)
    vol[~atlas.brain] = 0
    return np.clip(vol, 0, None)


def test_builder_on_synthetic_volumes(atlas):
    b = NormalDatabaseBuilder(atlas, 13.5, "123I-IMP")
    vols = [_member_volume(atlas, s) for s in range(4)]
    for i, v in enumerate(vols):
        b.add(v, {"series_instance_uid": f"1.2.3.{i}", "age": 60 + i})
    db = b.build(note="synthetic")
    assert db.n == 4 and db.references == list(REFERENCES)
    samples = atlas.samples(13.5)
    np.testing.assert_array_equal(db.raw_ssp[1], extract_ssp(vols[1], samples))
    for j, ref in enumerate(REFERENCES):
        expected = vols[2][atlas.reference_mask(ref)].mean()
        assert db.ref_means[2, j] == pytest.approx(expected, rel=1e-4)
    kept = vols[3][atlas.volume_mask(db.volume_margin_mm)] / vols[3][atlas.brain].mean()
    assert db.volume_margin_mm == 10.0 and kept.size > atlas.brain.sum()
    np.testing.assert_allclose(db.volumes[3].astype(np.float32), kept, rtol=2e-3, atol=2e-3)
    assert db.resolution_fwhm_mm is None
    assert db.meta["tracer"] == "123I-IMP"
    assert db.meta["age_range"] == [60, 63]
    assert db.meta["atlas_sha256"] == atlas.sha256
    assert db.meta["depth_mm"] == 13.5
    assert [m["series_instance_uid"] for m in db.meta["members"]] == [f"1.2.3.{i}" for i in range(4)]


def test_builder_global_scale_does_not_change_normalised_values(atlas):
    b = NormalDatabaseBuilder(atlas, 13.5, "123I-IMP", keep_volumes=False)
    v = _member_volume(atlas, 7)
    for scale in (1.0, 2.5, 0.4):
        b.add(v * np.float32(scale), {})
    db = b.build()
    assert db.volumes is None
    norm = db.normalised()
    np.testing.assert_allclose(norm[1], norm[0], rtol=1e-5)
    np.testing.assert_allclose(norm[2], norm[0], rtol=1e-5)
    np.testing.assert_allclose(db.sd, 0, atol=1e-5)


def test_builder_needs_three_members(atlas):
    b = NormalDatabaseBuilder(atlas, 13.5, "123I-IMP", keep_volumes=False)
    b.add(_member_volume(atlas, 1), {})
    b.add(_member_volume(atlas, 2), {})
    with pytest.raises(ValueError, match="3"):
        b.build()


def test_builder_rejects_member_without_counts_in_a_reference(atlas):
    b = NormalDatabaseBuilder(atlas, 13.5, "123I-IMP", keep_volumes=False)
    v = _member_volume(atlas, 3)
    v[atlas.reference_mask("PNS")] = 0
    with pytest.raises(ValueError, match="PNS"):
        b.add(v, {})
    assert b.raw == []


def test_built_database_round_trips(atlas, tmp_path):
    b = NormalDatabaseBuilder(atlas, 13.5, "123I-IMP")
    for s in range(3):
        b.add(_member_volume(atlas, 10 + s), {"age": None})
    db = b.build()
    assert db.meta["age_range"] is None
    db.save(tmp_path / "x.ndb")
    back = NormalDatabase.load(tmp_path / "x.ndb")
    np.testing.assert_array_equal(back.raw_ssp, db.raw_ssp)
    np.testing.assert_allclose(back.loo_z(), db.loo_z(), rtol=1e-6)


def test_harmonised_build_matches_the_patient_path(atlas):
    """A member is harmonised exactly as a patient would be: the database's raw SSP of a member
    equals the analyser's measurement of the same volume harmonised the patient's way."""
    from atlas.analysis import SSPAnalyser
    from spectssp.core.resolution import smooth_fwhm
    b = NormalDatabaseBuilder(atlas, 13.5, "123I-IMP", resolution_fwhm_mm=16.0)
    vols = [smooth_fwhm(_member_volume(atlas, 20 + s), f, atlas.voxel_mm) for s, f in enumerate((9.0, 12.5, 14.0))]
    for i, v in enumerate(vols):
        b.add(v, {"i": i})
    db = b.build()
    assert db.resolution_fwhm_mm == 16.0 and db.meta["resolution_fwhm_mm"] == 16.0
    est = [m["estimated_fwhm_mm"] for m in db.meta["members"]]
    assert est[0] < est[1] < est[2], est
    an = SSPAnalyser(atlas, db, 13.5, 2.0)
    raw, means = an.measure(an.harmonise(vols[1])[0])
    np.testing.assert_allclose(db.raw_ssp[1], raw, rtol=1e-5)
    np.testing.assert_allclose(db.ref_means[1], [means[r] for r in db.references], rtol=1e-5)
    # patients analysed against it come out harmonised to the same resolution
    res = an.analyse(vols[0]).resolution
    assert res.target_fwhm_mm == 16.0 and res.estimated_fwhm_mm == pytest.approx(est[0], abs=0.01)
    assert res.kernel_fwhm_mm == pytest.approx(np.sqrt(16.0 ** 2 - est[0] ** 2), abs=0.02)


@pytest.mark.parametrize("bad", ["16", -1.0, True])
def test_bad_resolution_metadata_is_unreadable_not_a_crash(atlas, tmp_path, bad):
    b = NormalDatabaseBuilder(atlas, 13.5, "123I-IMP", keep_volumes=False)
    for s in range(3):
        b.add(_member_volume(atlas, 30 + s), {})
    db = b.build()
    db.meta["resolution_fwhm_mm"] = bad
    db.save(tmp_path / "bad.ndb")
    with pytest.raises(ValueError, match="resolution_fwhm_mm"):
        NormalDatabase.load(tmp_path / "bad.ndb")


def test_describe_lists_what_the_database_records():
    db = _db()
    db.meta.update(created="2026-01-02T03:04:05+00:00", resolution_fwhm_mm=16.0, registration_stages=["rigid"])
    d = db.describe()
    assert d == {"tracer": "123I-IMP", "members": 6, "created": "2026-01-02T03:04:05+00:00", "resolution_fwhm_mm": 16.0,
                 "depth_mm": 13.5, "software": None, "registration_stages": ["rigid"], "sha256": db.sha256()[:16]}
