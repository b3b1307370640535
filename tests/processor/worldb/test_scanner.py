"""World B's camera: the resolution it is asked for, the grid, the counts, reproducibility."""
from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from processor.worldb.scanner import CameraOptions, acquire, butterworth, draw_camera


def _point_source() -> tuple[sitk.Image, np.ndarray]:
    arr = np.zeros((60, 60, 60), np.float32)
    arr[30, 30, 30] = 1.0
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((2.0, 2.0, 2.0))
    img.SetOrigin((-60.0, -60.0, -60.0))
    return img, np.array([0.0, 0.0, 0.0])


def _fwhm(profile: np.ndarray, step: float) -> float:
    """FWHM of a Gaussian from the profile's second moment."""
    x = np.arange(len(profile)) * step
    w = np.clip(profile, 0, None)
    mean = (x * w).sum() / w.sum()
    return float(2.3548 * np.sqrt(((x - mean) ** 2 * w).sum() / w.sum()))


@pytest.mark.parametrize("fwhm, axial, matrix", [(9.0, 1.0, 128), (12.0, 1.2, 128), (16.0, 1.25, 64)])
def test_noise_free_point_source_has_the_requested_resolution(fwhm, axial, matrix):
    opts = CameraOptions(matrix=matrix, fwhm_mm=(fwhm, fwhm), axial_factor=(axial, axial), pose=False,
                         postfilter=False, noise_free=True, position="HFS")
    cam = draw_camera(np.random.default_rng(0), opts)
    cam["table_z_mm"] = 0.0
    img = acquire(*_point_source(), cam, np.random.default_rng(1))
    arr = sitk.GetArrayFromImage(img)
    k, j, i = np.unravel_index(np.argmax(arr), arr.shape)
    px = cam["pixel_mm"]
    assert _fwhm(arr[k, j, :], px) == pytest.approx(fwhm, rel=0.1)
    assert _fwhm(arr[k, :, i], px) == pytest.approx(fwhm, rel=0.1)
    assert _fwhm(arr[:, j, i], px) == pytest.approx(fwhm * axial, rel=0.1)
    assert arr.sum() == pytest.approx(cam["total_counts"], rel=1e-3)


def test_camera_draws_are_in_range_and_reproducible():
    cams = [draw_camera(np.random.default_rng(s)) for s in range(60)]
    assert draw_camera(np.random.default_rng(4)) == cams[4]
    for c in cams:
        assert 9.0 <= c["fwhm_mm"] <= 16.0 and c["fwhm_mm"] <= c["axial_fwhm_mm"] <= 1.25 * c["fwhm_mm"] + 1e-6
        assert c["matrix"] in (64, 128) and 2.2 <= c["pixel_mm"] <= 4.4
        assert all(abs(a) <= 15.0 for a in c["rotation_deg"])
    assert {c["position"] for c in cams} == {"HFS", "FFS"}
    assert {c["matrix"] for c in cams} == {64, 128}
    assert any(c["postfilter"] for c in cams) and not all(c["postfilter"] for c in cams)


def test_butterworth_keeps_the_mean_and_removes_noise():
    rng = np.random.default_rng(0)
    noisy = rng.poisson(50.0, (32, 32, 32)).astype(np.float32)
    out = butterworth(noisy, (3.0, 3.0, 3.0), order=8, cutoff_nyquist=0.5)
    assert out.mean() == pytest.approx(noisy.mean(), rel=1e-4) and out.std() < 0.6 * noisy.std()


def test_poisson_counts_follow_the_drawn_total():
    cam = draw_camera(np.random.default_rng(2), CameraOptions(pose=False, postfilter=False, matrix=64))
    cam["table_z_mm"] = 0.0
    img = acquire(*_point_source(), cam, np.random.default_rng(3))
    arr = sitk.GetArrayFromImage(img)
    assert np.all(arr == np.round(arr)) and arr.sum() == pytest.approx(cam["total_counts"], rel=0.01)
