"""Scanner simulation: pose truth, resolution contrast, counts."""
from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from atlas import load_atlas, voi
from processor.phantom import ScannerOptions, make_study

NOISE_FREE = ScannerOptions(noise_free=True, matrix=64)


@pytest.fixture(scope="module")
def atlas():
    return load_atlas()


def sample_at_mni(study, atlas, ijk: np.ndarray) -> np.ndarray:
    """Scanner image values at atlas voxels (i, j, k), mapped through the true pose."""
    pose = np.array(study.truth["scanner"]["pose_mni_lps_to_scanner_lps"])
    lps = atlas.world_mm(np.atleast_2d(ijk).astype(float)) * np.array([-1.0, -1.0, 1.0])
    scanner = lps @ pose[:3, :3].T + pose[:3, 3]
    img = study.image
    idx = np.array([img.TransformPhysicalPointToContinuousIndex(p.tolist()) for p in scanner])
    arr = sitk.GetArrayFromImage(img).astype(np.float64)     # (k, j, i)
    return ndimage.map_coordinates(arr, idx[:, ::-1].T, order=1)


def test_pose_truth_finds_a_known_lesion(atlas):
    """25 % in the left thalamus shows up where the pose maps its MNI centroid, not on the right."""
    plain = make_study("NC", 21, 0, scanner=NOISE_FREE)
    lesion = make_study("NC", 21, 0, scanner=NOISE_FREE, lesions=[(["thalamus_L"], 0.25)])
    assert plain.truth["scanner"]["pose_mni_lps_to_scanner_lps"] == \
        lesion.truth["scanner"]["pose_mni_lps_to_scanner_lps"]
    rot = plain.truth["scanner"]["rotation_deg"]
    assert max(abs(a) for a in rot) > 3   # a real rotation, so a wrong pose would miss
    centroids = [np.argwhere(atlas.voi_mask(n)).mean(0) for n in ("thalamus_L", "thalamus_R")]
    before = sample_at_mni(plain, atlas, np.array(centroids))
    after = sample_at_mni(lesion, atlas, np.array(centroids))
    ratio = after / before
    assert ratio[0] < 0.88, ratio
    assert ratio[1] > 0.96, ratio


def test_grey_matter_brighter_than_white_matter(atlas):
    study = make_study("NC", 22, 0, scanner=ScannerOptions(noise_free=True, matrix=64, fwhm_mm=(12, 12)))
    cereb = atlas.voi_mask(voi.both("cerebellum") + ["vermis"])
    gm = np.argwhere((atlas.gm > 0.85) & ~cereb)[::5]
    wm = np.argwhere(atlas.wm > 0.97)[::5]
    g, w = sample_at_mni(study, atlas, gm).mean(), sample_at_mni(study, atlas, wm).mean()
    assert 0.55 < w / g < 0.85, w / g
    # outside the head there is nothing
    arr = sitk.GetArrayFromImage(study.image)
    assert arr[0].max() == 0 or arr[-1].max() == 0 or arr[:, 0, :].max() == 0


def test_counts_and_grid(atlas):
    study = make_study("AD", 23, 0, scanner=ScannerOptions(matrix=128, fwhm_mm=(12, 12)))
    img, t = study.image, study.truth["scanner"]
    assert img.GetPixelID() == sitk.sitkUInt16
    assert img.GetSize() == (128, 128, t["n_slices"])
    assert 2.0 <= t["voxel_mm"] <= 3.5 and img.GetSpacing() == (t["voxel_mm"],) * 3
    arr = sitk.GetArrayFromImage(img)
    assert 250 < t["peak_counts"] < 1800
    assert abs(arr.sum() / t["total_counts"] - 1) < 0.01     # Poisson: counts preserved on average
    noise_free = make_study("AD", 23, 0, scanner=ScannerOptions(matrix=128, fwhm_mm=(12, 12), noise_free=True))
    nf = sitk.GetArrayFromImage(noise_free.image)
    hot = nf > 0.5 * nf.max()
    resid = (arr[hot] - nf[hot]) / np.sqrt(nf[hot])
    assert 0.8 < resid.std() < 1.2        # Poisson variance equals the mean


def test_options_are_checked():
    with pytest.raises(ValueError, match="matrix"):
        ScannerOptions(matrix=100)
    with pytest.raises(ValueError, match="voxel_mm"):
        ScannerOptions(voxel_mm=7.0)
