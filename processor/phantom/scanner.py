"""The SPECT acquisition of a phantom: head pose, scanner grid, resolution, Poisson counts.

The activity on the atlas grid is blurred to the system resolution there (a Gaussian is
rotation invariant, so blurring before the pose equals blurring after it), then resampled
through the head pose into an axis-aligned scanner grid (LPS, head first supine) with
SimpleITK, scaled to clinical IMP count levels and given Poisson noise. The pose truth is a
4x4 matrix mapping MNI LPS mm to scanner LPS mm.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from atlas.load import Atlas

log = logging.getLogger(__name__)

MATRICES = (64, 128)
# Voxel sizes per matrix so the field of view holds the head in any allowed pose.
VOXEL_RANGE_MM = {64: (3.9, 5.0), 128: (2.0, 3.5)}
SLICE_ORDERS = ("ascending", "descending")   # descending: negative SpacingBetweenSlices


@dataclass(frozen=True)
class ScannerOptions:
    """Acquisition settings; ``None`` or a (lo, hi) pair is drawn from the rng."""

    matrix: int | None = None
    voxel_mm: float | None = None
    n_slices: int | None = None                    # None: as many as the matrix
    fwhm_mm: tuple[float, float] = (10.0, 16.0)
    peak_counts: tuple[float, float] = (300.0, 1500.0)
    max_rotation_deg: float = 15.0
    max_shift_mm: float = 20.0
    table_z_mm: tuple[float, float] = (-150.0, 150.0)  # scanner z of the field-of-view centre
    slice_order: str | None = None
    noise_free: bool = False

    def __post_init__(self) -> None:
        if self.matrix is not None and self.matrix not in MATRICES:
            raise ValueError(f"matrix must be one of {MATRICES}, got {self.matrix}")
        if self.voxel_mm is not None and not 2.0 <= self.voxel_mm <= 5.0:
            raise ValueError(f"voxel_mm must be between 2 and 5 mm, got {self.voxel_mm}")
        if self.slice_order is not None and self.slice_order not in SLICE_ORDERS:
            raise ValueError(f"slice_order must be one of {SLICE_ORDERS}, got {self.slice_order!r}")


def rotation_matrix(ax: float, ay: float, az: float) -> np.ndarray:
    """R = Rz @ Ry @ Rx from angles in degrees about the LPS x, y and z axes."""
    x, y, z = np.radians([ax, ay, az])
    rx = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
    return rz @ ry @ rx


def atlas_image(array_ijk: np.ndarray, atlas: Atlas) -> sitk.Image:
    """An ITK image (LPS) of an (i, j, k)-indexed array on the atlas grid."""
    img = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(array_ijk, (2, 1, 0))))
    origin, spacing, direction = atlas.to_lps_geometry()
    img.SetOrigin([float(v) for v in origin])
    img.SetSpacing([float(v) for v in spacing])
    img.SetDirection([float(v) for v in direction])
    return img


def brain_centre_lps(atlas: Atlas) -> np.ndarray:
    """Centroid of the brain mask in MNI LPS mm (the centre of the head rotation)."""
    ijk = np.argwhere(atlas.brain).mean(0)
    ras = atlas.world_mm(ijk[None])[0]
    return ras * np.array([-1.0, -1.0, 1.0])


@dataclass(frozen=True)
class _Draw:
    """The drawn settings of one acquisition (options applied), all but the noise."""

    angles: np.ndarray
    shift: np.ndarray
    table_z: float
    matrix: int
    voxel: float
    n_slices: int
    fwhm: float
    peak: float
    order: str


def _draw(rng: np.random.Generator, o: ScannerOptions) -> tuple[_Draw, np.random.Generator]:
    """(settings, noise generator). Every random value is drawn first, in a fixed order, so
    that options do not shift the stream; the noise generator is spawned after them."""
    angles = rng.uniform(-o.max_rotation_deg, o.max_rotation_deg, 3)
    direction = rng.normal(size=3)
    shift = direction / np.linalg.norm(direction) * o.max_shift_mm * rng.uniform(0, 1) ** (1 / 3)
    table_z = float(rng.uniform(*o.table_z_mm))
    matrix_drawn = int(rng.choice(MATRICES))
    voxel_u = float(rng.uniform())
    fwhm = float(rng.uniform(*o.fwhm_mm))
    peak = float(rng.uniform(*o.peak_counts))
    order_drawn = SLICE_ORDERS[int(rng.integers(2))]
    noise_rng = rng.spawn(1)[0]

    matrix = o.matrix or matrix_drawn
    lo, hi = VOXEL_RANGE_MM[matrix]
    voxel = float(o.voxel_mm) if o.voxel_mm is not None else round(lo + voxel_u * (hi - lo), 2)
    return _Draw(angles, shift, table_z, matrix, voxel, o.n_slices or matrix, fwhm, peak,
                 o.slice_order or order_drawn), noise_rng


def _pose(rot: np.ndarray, c_brain: np.ndarray, c_fov: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """4x4 MNI LPS -> scanner LPS: p_scanner = R (p_mni - c_brain) + c_fov + shift."""
    pose = np.eye(4)
    pose[:3, :3] = rot
    pose[:3, 3] = c_fov + shift - rot @ c_brain
    return pose


def _resample(src: sitk.Image, pose: np.ndarray, d: _Draw, c_fov: np.ndarray) -> sitk.Image:
    """``src`` (atlas grid) through the pose into the axis-aligned scanner grid centred on the
    field of view, slices ascending or descending; Float32, linear, one thread (deterministic)."""
    dir3 = np.diag([1.0, 1.0, 1.0 if d.order == "ascending" else -1.0])
    size = np.array([d.matrix, d.matrix, d.n_slices])
    origin = c_fov - dir3 @ (d.voxel * (size - 1) / 2.0)
    inverse = np.linalg.inv(pose)
    tx = sitk.AffineTransform(3)
    tx.SetMatrix(inverse[:3, :3].ravel().tolist())
    tx.SetTranslation(inverse[:3, 3].tolist())
    res = sitk.ResampleImageFilter()
    res.SetSize([int(s) for s in size])
    res.SetOutputSpacing([d.voxel] * 3)
    res.SetOutputOrigin(origin.tolist())
    res.SetOutputDirection(dir3.ravel().tolist())
    res.SetTransform(tx)
    res.SetInterpolator(sitk.sitkLinear)
    res.SetDefaultPixelValue(0.0)
    res.SetOutputPixelType(sitk.sitkFloat32)
    res.SetNumberOfThreads(1)   # deterministic and polite on shared cores
    return res.Execute(src)


def _counts(img: sitk.Image, peak: float, noise_free: bool, noise_rng: np.random.Generator,
            ) -> tuple[sitk.Image, np.ndarray, float]:
    """(counts image, expected counts, scale): ``img`` scaled so that its maximum is ``peak``,
    then Poisson noise (UInt16), or the expected counts themselves (Float32) when noise-free."""
    expected = sitk.GetArrayViewFromImage(img)
    amax = float(expected.max())
    if amax <= 0:
        raise ValueError("the head fell outside the scanner field of view")
    scale = peak / amax
    lam = np.clip(expected * np.float32(scale), 0, None).astype(np.float32)
    if noise_free:
        out = sitk.GetImageFromArray(lam)
    else:
        counts = noise_rng.poisson(lam)
        out = sitk.GetImageFromArray(np.minimum(counts, 65535).astype(np.uint16))
    out.CopyInformation(img)
    return out, lam, scale


def _truth(d: _Draw, pose: np.ndarray, c_fov: np.ndarray, lam: np.ndarray, scale: float,
           noise_free: bool, out: sitk.Image) -> dict[str, Any]:
    """The acquisition's truth as the sidecar records it (rounded for reading)."""
    return {
        "pose_mni_lps_to_scanner_lps": pose.round(6).tolist(),
        "rotation_deg": [round(float(a), 4) for a in d.angles],
        "shift_mm": [round(float(s), 4) for s in d.shift],
        "fov_centre_mm": c_fov.round(4).tolist(),
        "fwhm_mm": round(d.fwhm, 3),
        "matrix": d.matrix,
        "n_slices": int(d.n_slices),
        "voxel_mm": d.voxel,
        "slice_order": d.order,
        "peak_counts": round(float(lam.max()), 2),
        "counts_scale": scale,
        "total_counts": round(float(lam.sum()), 1),
        "noise_free": noise_free,
        "origin": [round(float(v), 6) for v in out.GetOrigin()],
        "direction": [float(v) for v in out.GetDirection()],
    }


def acquire(activity: np.ndarray, atlas: Atlas, rng: np.random.Generator,
            options: ScannerOptions | None = None, global_level: float = 1.0,
            ) -> tuple[sitk.Image, dict[str, Any]]:
    """(scanner image in LPS, truth) of ``activity`` (atlas grid) as a SPECT scanner sees it.

    Counts are scaled so that the noise-free peak is the drawn ``peak_counts`` times the
    subject's ``global_level``. The image is UInt16 Poisson counts, or Float32 expected
    counts when ``noise_free``.
    """
    o = options or ScannerOptions()
    d, noise_rng = _draw(rng, o)
    c_fov = np.array([0.0, 0.0, d.table_z])
    pose = _pose(rotation_matrix(*d.angles), brain_centre_lps(atlas), c_fov, d.shift)
    # Resolution on the 2 mm atlas grid, then resample through the pose.
    sigma = d.fwhm / 2.3548 / float(abs(atlas.affine[0, 0]))
    blurred = ndimage.gaussian_filter(activity.astype(np.float32), sigma, mode="constant", truncate=3.5)
    img = _resample(atlas_image(blurred, atlas), pose, d, c_fov)
    out, lam, scale = _counts(img, d.peak * global_level, o.noise_free, noise_rng)
    log.debug("acquired matrix=%d voxel=%.2f fwhm=%.1f peak=%.0f", d.matrix, d.voxel, d.fwhm, d.peak)
    return out, _truth(d, pose, c_fov, lam, scale, o.noise_free, out)
