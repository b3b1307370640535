"""Studies registration QC must reject whatever the template: flips, truncation, non-brain objects.

Each function turns a study (any phantom world, or a real scan) into a gross failure with the
same scanner geometry, so the registration QC floor (``registration.qc_floor``) can be measured
and tested against the bundled and a site template (docs/registration.md).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import SimpleITK as sitk


def _like(image: sitk.Image, arr: np.ndarray) -> sitk.Image:
    out = sitk.GetImageFromArray(np.ascontiguousarray(arr.astype(np.float32)))
    out.CopyInformation(image)
    return out


def _axis(image: sitk.Image, lps: int) -> int:
    """The array axis (z, y, x order) that runs most along LPS axis ``lps`` (0 L, 1 P, 2 S)."""
    d = np.array(image.GetDirection()).reshape(3, 3)   # columns: image axes i, j, k in LPS
    return 2 - int(np.argmax(np.abs(d[lps])))


def upside_down(image: sitk.Image) -> sitk.Image:
    """Superior and inferior swapped (a head-first/feet-first mix-up)."""
    return _like(image, np.flip(sitk.GetArrayFromImage(image), _axis(image, 2)))


def front_to_back(image: sitk.Image) -> sitk.Image:
    """Anterior and posterior swapped (prone/supine mix-up)."""
    return _like(image, np.flip(sitk.GetArrayFromImage(image), _axis(image, 1)))


def truncated(image: sitk.Image) -> sitk.Image:
    """The upper half of the counts cut away: every slice above the counts' median height is
    emptied (a field of view that missed half the brain)."""
    arr = sitk.GetArrayFromImage(image).astype(np.float32)
    ax = _axis(image, 2)
    profile = arr.sum(axis=tuple(a for a in range(3) if a != ax))
    cut = int(np.searchsorted(np.cumsum(profile) / profile.sum(), 0.5))
    d = np.array(image.GetDirection()).reshape(3, 3)
    superior_up = d[2, 2 - ax] > 0   # the index grows towards superior
    sl = [slice(None)] * 3
    sl[ax] = slice(cut, None) if superior_up else slice(None, cut)
    arr[tuple(sl)] = 0
    return _like(image, arr)


def _centred_radius(image: sitk.Image, semi_axes_mm: tuple[float, float, float]) -> np.ndarray:
    """Normalised ellipsoid radius of each voxel about the counts' centre (array order)."""
    arr = sitk.GetArrayFromImage(image).astype(np.float64)
    idx = np.indices(arr.shape, dtype=np.float64)
    centre = [float((idx[a] * arr).sum() / arr.sum()) for a in range(3)]
    spacing = image.GetSpacing()[::-1]
    return np.sqrt(sum(((idx[a] - centre[a]) * spacing[a] / semi_axes_mm[a]) ** 2 for a in range(3)))


def ellipsoid(image: sitk.Image, seed: int = 0) -> sitk.Image:
    """A uniform head-sized ellipsoid (70 x 85 x 60 mm semi-axes) with Poisson counts at the
    study's level: something bright and brain-sized that is not a brain."""
    level = float(np.percentile(sitk.GetArrayFromImage(image), 99))
    r = _centred_radius(image, (60.0, 85.0, 70.0))
    rng = np.random.default_rng(seed)
    return _like(image, rng.poisson(np.where(r <= 1, level * 0.7, 0.02 * level)))


def noise_blob(image: sitk.Image, seed: int = 0) -> sitk.Image:
    """Smooth random blobs inside a head-sized sphere: structure, but no brain."""
    from scipy import ndimage
    level = float(np.percentile(sitk.GetArrayFromImage(image), 99))
    rng = np.random.default_rng(seed)
    spacing = np.array(image.GetSpacing()[::-1])
    field = ndimage.gaussian_filter(rng.standard_normal(sitk.GetArrayFromImage(image).shape), 12.0 / spacing)
    field = (field - field.min()) / (np.ptp(field) or 1.0)
    r = _centred_radius(image, (75.0, 75.0, 75.0))
    return _like(image, rng.poisson(level * np.where(r <= 1, field, 0.0)))


ALL: dict[str, Callable[[sitk.Image], sitk.Image]] = {
    "upside-down": upside_down, "front-to-back": front_to_back, "truncated (upper half)": truncated,
    "uniform ellipsoid": ellipsoid, "noise blob": noise_blob,
}
