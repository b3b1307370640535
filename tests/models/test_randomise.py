"""Domain randomisation: each nuisance changes what it should and nothing else."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from models.randomise import misregister, regional_ratios, smooth_random_field, support_box, textured, warp_smoothly

SHAPE = (40, 44, 36)


def _blob() -> np.ndarray:
    w = np.zeros(SHAPE, np.float32)
    w[12:24, 14:28, 10:22] = 0.3
    return w


def _brain() -> np.ndarray:
    return np.ones(SHAPE, bool)


def test_smooth_random_field_has_unit_sd_and_given_smoothness():
    rng = np.random.default_rng(0)
    rough = smooth_random_field(rng, SHAPE, _brain(), 2.0)
    smooth = smooth_random_field(rng, SHAPE, _brain(), 10.0)
    for f in (rough, smooth):
        assert f.std() == pytest.approx(1.0, abs=1e-3) and abs(f.mean()) < 1e-3
    # neighbouring voxels correlate more in the smoother field
    assert np.corrcoef(smooth[1:].ravel(), smooth[:-1].ravel())[0, 1] > np.corrcoef(rough[1:].ravel(),
                                                                                     rough[:-1].ravel())[0, 1] + 0.1


def test_warp_moves_the_boundary_but_keeps_the_lesion():
    w = _blob()
    assert warp_smoothly(w, np.random.default_rng(0), _brain(), 0.0, 8.0) is w
    out = warp_smoothly(w, np.random.default_rng(0), _brain(), 2.0, 8.0)
    assert out.shape == w.shape and out.max() <= 0.3 + 1e-6 and out.min() >= 0
    assert ((out > 0.15) & (w == 0)).any() and ((out < 0.15) & (w > 0)).any()   # edges moved both ways
    assert out.sum() == pytest.approx(w.sum(), rel=0.3)
    np.testing.assert_array_equal(out, warp_smoothly(w, np.random.default_rng(0), _brain(), 2.0, 8.0))


def test_texture_varies_depth_inside_only():
    w = _blob()
    out = textured(w, np.random.default_rng(1), _brain(), 0.4, 4.0)
    assert np.all(out[w == 0] == 0) and out.min() >= 0
    inside = out[w > 0]
    assert inside.std() > 0.03 and inside.mean() == pytest.approx(0.3, rel=0.15)


def test_regional_ratios_one_factor_per_label():
    labels = np.zeros(SHAPE, np.int64)
    labels[5:20] = 3
    labels[20:35] = 7
    f = regional_ratios(labels, np.random.default_rng(2), 0.05, 0.0)
    assert np.all(f[labels == 0] == 1.0)
    for lab in (3, 7):
        assert np.ptp(f[labels == lab]) == 0
    assert f[labels == 3][0] != f[labels == 7][0]
    smooth = regional_ratios(labels, np.random.default_rng(2), 0.05, 2.0)
    assert np.ptp(smooth[labels == 3]) > 0          # edges blend into the neighbours


def test_misregister_moves_within_bounds():
    vol = ndimage.gaussian_filter(_blob(), 2.0)
    same, drawn = misregister(vol, np.random.default_rng(0), 0.0, 0.0, 0.0)
    assert same is vol and drawn == {}
    out, drawn = misregister(vol, np.random.default_rng(0), 2.0, 3.0, 0.02)
    assert drawn["misregistration_deg"] <= 3.0 and drawn["misregistration_vox"] <= 2.0
    assert drawn["misregistration_scale"] <= 0.02
    moved = np.subtract(ndimage.center_of_mass(out), ndimage.center_of_mass(vol))
    assert 0 < np.linalg.norm(moved) < 2.0 * np.sqrt(3) + 1.0
    assert out.sum() == pytest.approx(vol.sum(), rel=0.1)


def test_support_box_pads_and_clips():
    w = _blob()
    box = support_box(w, 2)
    assert box == (slice(10, 26), slice(12, 30), slice(8, 24))
    assert support_box(w, 50) == tuple(slice(0, n) for n in SHAPE)
