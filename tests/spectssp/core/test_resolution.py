"""Resolution estimate and harmonisation (spectssp.core.resolution) on the atlas grid."""
from __future__ import annotations

import numpy as np
import pytest

from spectssp.core.resolution import ResolutionMatcher, kernel_to_target, smooth_fwhm


@pytest.fixture(scope="module")
def atlas():
    from atlas import load_atlas
    return load_atlas()


@pytest.fixture(scope="module")
def matcher(atlas) -> ResolutionMatcher:
    return atlas.resolution_matcher


@pytest.mark.parametrize("fwhm", [7.0, 8.3, 10.5, 11.7, 13.0, 14.25, 16.0, 19.5])
def test_estimate_recovers_known_blur(atlas, matcher, fwhm):
    vol = smooth_fwhm(atlas.perfusion_model, fwhm, atlas.voxel_mm)
    assert matcher.estimate(vol) == pytest.approx(fwhm, abs=0.35)


def test_estimate_ignores_count_level_and_survives_poisson_noise(atlas, matcher):
    rng = np.random.default_rng(5)
    vol = smooth_fwhm(atlas.perfusion_model, 12.0, atlas.voxel_mm)
    assert matcher.estimate(vol * 37.0) == pytest.approx(matcher.estimate(vol), abs=1e-3)
    noisy = rng.poisson(np.clip(vol, 0, None) / vol.max() * 150.0).astype(np.float32)
    assert matcher.estimate(noisy) == pytest.approx(12.0, abs=1.0)


def test_estimate_is_monotonic_in_blur(atlas, matcher):
    est = [matcher.estimate(smooth_fwhm(atlas.perfusion_model, f, atlas.voxel_mm)) for f in (9, 11, 13, 15, 17)]
    assert all(b > a for a, b in zip(est, est[1:]))


def test_kernel_to_target_adds_in_quadrature():
    assert kernel_to_target(10.0, 16.0) == pytest.approx(np.sqrt(16 ** 2 - 10 ** 2))
    assert kernel_to_target(16.0, 16.0) == 0.0
    assert kernel_to_target(18.0, 16.0) == 0.0      # never sharpen


def test_harmonise_brings_sharp_and_blurry_scans_together(atlas, matcher):
    """A 10 mm and a 15 mm scan of the same brain differ at the cortex; after harmonisation to
    16 mm both read as 16 mm and their cortical 3D-SSP values agree far better."""
    sharp = smooth_fwhm(atlas.perfusion_model, 10.0, atlas.voxel_mm)
    blurry = smooth_fwhm(atlas.perfusion_model, 15.0, atlas.voxel_mm)
    samples = atlas.samples(13.5)

    def ssp(v):
        return v.reshape(-1)[samples].max(axis=1) / v[atlas.brain].mean()

    before = np.abs(ssp(sharp) - ssp(blurry)).mean()
    h_sharp, h_blurry = matcher.harmonise(sharp, 16.0), matcher.harmonise(blurry, 16.0)
    after = np.abs(ssp(h_sharp.volume) - ssp(h_blurry.volume)).mean()
    assert h_sharp.kernel_fwhm_mm == pytest.approx(np.sqrt(16 ** 2 - 10 ** 2), abs=0.5)
    assert h_blurry.kernel_fwhm_mm < h_sharp.kernel_fwhm_mm
    assert matcher.estimate(h_sharp.volume) == pytest.approx(16.0, abs=0.4)
    assert matcher.estimate(h_blurry.volume) == pytest.approx(16.0, abs=0.4)
    assert after < 0.05 * before


def test_harmonise_leaves_a_coarser_scan_alone(atlas, matcher):
    blurry = smooth_fwhm(atlas.perfusion_model, 19.0, atlas.voxel_mm)
    h = matcher.harmonise(blurry, 16.0)
    assert h.kernel_fwhm_mm == 0.0 and h.coarser_than_target
    np.testing.assert_array_equal(h.volume, blurry)


def test_constant_image_is_an_error_not_a_guess(matcher, atlas):
    with pytest.raises(ValueError, match="constant"):
        matcher.estimate(np.ones(atlas.shape, np.float32))


def test_candidates_must_increase(atlas):
    with pytest.raises(ValueError):
        ResolutionMatcher(atlas.perfusion_model, atlas.brain, atlas.voxel_mm, (8.0, 7.0, 9.0))


def test_harmonise_estimates_on_the_given_volume(atlas, matcher):
    """The estimate may come from another resampling of the study (the linear registration);
    the smoothing is applied to the volume itself."""
    sharp = smooth_fwhm(atlas.perfusion_model, 10.0, atlas.voxel_mm)
    blurry = smooth_fwhm(atlas.perfusion_model, 15.0, atlas.voxel_mm)
    h = matcher.harmonise(sharp, 16.0, estimate_on=blurry)
    assert h.estimated_fwhm_mm == pytest.approx(15.0, abs=0.35)
    assert h.kernel_fwhm_mm == pytest.approx(np.sqrt(16 ** 2 - h.estimated_fwhm_mm ** 2), abs=1e-6)
    np.testing.assert_allclose(h.volume, smooth_fwhm(sharp, h.kernel_fwhm_mm, atlas.voxel_mm), rtol=1e-6)
