"""The shipped standard space: integrity, VOI table, pons definition."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from atlas import load_atlas, voi
from atlas.load import DATA_DIR


@pytest.fixture(scope="module")
def atlas():
    return load_atlas()


@pytest.fixture(scope="module")
def meta():
    return json.loads((DATA_DIR / "atlas.json").read_text())


def test_shipped_npz_matches_recorded_sha256(meta):
    digest = hashlib.sha256((DATA_DIR / "atlas.npz").read_bytes()).hexdigest()
    assert digest == meta["sha256"]


def test_loaded_atlas_carries_the_recorded_hash(atlas, meta):
    assert atlas.sha256 == meta["sha256"]


def test_grid_matches_metadata(atlas, meta):
    assert list(atlas.shape) == meta["grid"]["shape"]
    assert atlas.voxel_mm == meta["grid"]["voxel_mm"]
    for arr in (atlas.template, atlas.brain, atlas.labels, atlas.gm, atlas.wm):
        assert arr.shape == atlas.shape
    # MNI origin (0, 0, 0) mm lies inside the grid, near its centre
    ijk0 = np.linalg.solve(atlas.affine, [0, 0, 0, 1])[:3]
    assert np.all(ijk0 > 0.3 * np.array(atlas.shape)) and np.all(ijk0 < 0.7 * np.array(atlas.shape))


def test_voi_ids_unique_and_match_metadata(meta):
    ids = list(voi.LABELS.values())
    assert len(ids) == len(set(ids))
    assert 0 not in ids  # 0 is background
    assert voi.LABELS == meta["labels"]
    assert voi.NAMES == {v: k for k, v in voi.LABELS.items()}


def test_every_voi_has_voxels_inside_the_brain(atlas, meta):
    counts = np.bincount(atlas.labels.ravel(), minlength=max(voi.LABELS.values()) + 1)
    for name, lab in voi.LABELS.items():
        assert counts[lab] > 0, f"VOI {name} has no voxels"
        assert counts[lab] == meta["voi_voxels"][name]
    assert not np.any(atlas.labels[~atlas.brain]), "labelled voxels outside the brain mask"
    # nothing in the label map beyond the table
    assert set(np.unique(atlas.labels)) <= {0, *voi.LABELS.values()}


def test_every_voi_set_refers_to_known_vois():
    sets = [voi.AD_REGIONS, voi.DLB_REGIONS, voi.AD_SPECIFIC.vois, voi.CIS_NUMERATOR.vois,
            voi.CIS_DENOMINATOR.vois, *voi.REFERENCE_VOIS.values(), *(r.vois for r in voi.REGION_TABLE)]
    for s in sets:
        assert set(s) <= set(voi.LABELS), set(s) - set(voi.LABELS)


def test_pons_at_expected_mni_position(atlas):
    pons = np.argwhere(atlas.labels == voi.LABELS["pons"])
    c = atlas.world_mm(pons.astype(float)).mean(axis=0)
    assert abs(c[0]) < 2.0
    assert c[1] == pytest.approx(-26.0, abs=5.0)
    assert c[2] == pytest.approx(-32.0, abs=5.0)


def test_pons_is_one_piece_and_disjoint_from_cerebellum(atlas):
    pons = atlas.labels == voi.LABELS["pons"]
    cbl = atlas.reference_mask("CBL")
    assert not np.any(pons & cbl)
    assert not np.any(pons & atlas.voi_mask(voi.both("cerebellum") + ["vermis"]))
    _, n = ndimage.label(pons)
    assert n == 1
    # the pons lies in front of the cerebellum
    yp = atlas.world_mm(np.argwhere(pons).astype(float))[:, 1].mean()
    yc = atlas.world_mm(np.argwhere(cbl).astype(float))[:, 1].mean()
    assert yp > yc + 20.0


def test_reference_masks_are_nonempty_brain_subsets(atlas):
    for ref in ("GLB", "THL", "PNS", "CBL"):
        m = atlas.reference_mask(ref)
        assert m.any()
        assert not np.any(m & ~atlas.brain)
    assert np.array_equal(atlas.reference_mask("GLB"), atlas.brain)


def test_lps_geometry_maps_voxels_like_the_ras_affine(atlas):
    origin, spacing, direction = atlas.to_lps_geometry()
    d = np.array(direction).reshape(3, 3)
    ijk = np.array([[0, 0, 0], [10, 20, 30], [98, 116, 94]], float)
    lps = (d @ (np.array(spacing)[:, None] * ijk.T)).T + np.array(origin)
    ras = atlas.world_mm(ijk)
    np.testing.assert_allclose(lps, ras * [-1, -1, 1])
