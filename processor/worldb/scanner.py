"""World B's SPECT camera and reconstruction: pose, anisotropic resolution, grid, counts, filter.

Another acquisition model than world A's: the subject's head (its size and shape through a
per-subject affine, then a rigid pose) is first resampled into the camera's axes on a 2 mm
grid, blurred there with an axial FWHM that may differ from the in-plane one, sampled onto the
camera's reconstruction grid, given Poisson counts for a drawn total count, and post-filtered
with a 3D Butterworth filter as consoles do. The result is floating point (the filter may ring
slightly below zero), written by :mod:`processor.worldb.dicom`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

MATRICES = (64, 128)
PIXEL_MM = {128: (2.2, 3.3), 64: (3.3, 4.4)}
POSITIONS = ("HFS", "FFS")
_FINE_MM = 2.0


@dataclass(frozen=True)
class CameraOptions:
    """Acquisition ranges; ``None`` draws, a value fixes (all ranges: project choice)."""

    matrix: int | None = None
    fwhm_mm: tuple[float, float] = (9.0, 16.0)          # in-plane system resolution
    axial_factor: tuple[float, float] = (1.0, 1.25)     # axial FWHM / in-plane FWHM
    total_counts: tuple[float, float] = (1.5e6, 8e6)    # log-uniform, before the global level
    axial_fov_mm: tuple[float, float] = (190.0, 230.0)
    rotation_deg: tuple[tuple[float, float], ...] = ((-8.0, 8.0), (-5.0, 15.0), (-8.0, 8.0))  # roll, pitch, yaw
    shift_mm: tuple[float, float, float] = (12.0, 12.0, 15.0)
    scale: tuple[float, float] = (0.93, 1.07)            # head size per axis
    shear: float = 0.03
    postfilter: bool | None = None                       # None: drawn (most consoles filter)
    position: str | None = None                          # HFS or FFS; None: drawn
    pose: bool = True                                    # False: no pose, no head-size change
    noise_free: bool = False

    def __post_init__(self) -> None:
        if self.matrix is not None and self.matrix not in MATRICES:
            raise ValueError(f"matrix must be one of {MATRICES}, got {self.matrix}")
        if self.position is not None and self.position not in POSITIONS:
            raise ValueError(f"position must be one of {POSITIONS}, got {self.position!r}")


def _rotation(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """R = Rx(pitch, nodding) @ Ry(yaw, tilt to a shoulder) @ Rz(roll, turning in the axial plane)."""
    a, b, c = np.radians([roll, pitch, yaw])
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    ry = np.array([[np.cos(c), 0, np.sin(c)], [0, 1, 0], [-np.sin(c), 0, np.cos(c)]])
    return rx @ ry @ rz


def draw_camera(rng: np.random.Generator, opts: CameraOptions | None = None) -> dict[str, Any]:
    """Every random camera value, drawn in a fixed order whatever the options."""
    o = opts or CameraOptions()
    u = rng.random(12)
    angles = [lo + u[i] * (hi - lo) for i, (lo, hi) in enumerate(o.rotation_deg)]
    shift = [float(s) for s in rng.uniform(-1, 1, 3) * np.array(o.shift_mm)]
    scale = [float(s) for s in rng.uniform(*o.scale, 3)]
    shear = [float(s) for s in rng.uniform(-o.shear, o.shear, 3)]
    matrix = o.matrix or MATRICES[int(u[3] < 0.55)]
    lo, hi = PIXEL_MM[matrix]
    fwhm = o.fwhm_mm[0] + u[5] * (o.fwhm_mm[1] - o.fwhm_mm[0])
    axial = fwhm * (o.axial_factor[0] + u[6] * (o.axial_factor[1] - o.axial_factor[0]))
    counts = float(np.exp(np.log(o.total_counts[0]) + u[7] * np.log(o.total_counts[1] / o.total_counts[0])))
    position = o.position or POSITIONS[int(u[8] < 0.2)]
    postfilter = o.postfilter if o.postfilter is not None else bool(u[9] < 0.8)
    cam = {
        "matrix": int(matrix), "pixel_mm": round(lo + u[4] * (hi - lo), 3),
        "fwhm_mm": round(float(fwhm), 3), "axial_fwhm_mm": round(float(axial), 3),
        "total_counts": round(counts), "axial_fov_mm": float(o.axial_fov_mm[0] + u[10] * np.ptp(o.axial_fov_mm)),
        "slice_order": "ascending" if u[11] < 0.6 else "descending", "position": position,
        "rotation_deg": [round(float(a), 4) for a in angles], "shift_mm": [round(s, 4) for s in shift],
        "scale": [round(s, 5) for s in scale], "shear": [round(s, 5) for s in shear],
        "postfilter": None, "table_z_mm": round(float(rng.uniform(-300, 300)), 3),
        "noise_free": o.noise_free,
    }
    order, cutoff = int(rng.integers(5, 11)), float(rng.uniform(0.45, 0.8))
    if postfilter:
        cam["postfilter"] = {"kind": "butterworth", "order": order, "cutoff_nyquist": round(cutoff, 4)}
    if not o.pose:
        cam.update(rotation_deg=[0.0] * 3, shift_mm=[0.0] * 3, scale=[1.0] * 3, shear=[0.0] * 3)
    return cam


def head_matrix(cam: dict[str, Any], centre_lps: np.ndarray) -> np.ndarray:
    """4x4 map from MNI LPS mm to camera (patient LPS) mm: size and shape, then the rigid pose."""
    s = np.diag(cam["scale"])
    sh = np.eye(3)
    sh[0, 1], sh[0, 2], sh[1, 2] = cam["shear"]
    lin = _rotation(*cam["rotation_deg"]) @ sh @ s
    fov_centre = np.array([0.0, 0.0, cam["table_z_mm"]])
    m = np.eye(4)
    m[:3, :3] = lin
    m[:3, 3] = fov_centre + np.array(cam["shift_mm"]) - lin @ centre_lps
    return m


def _grid(cam: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(size x y z, spacing, direction) of the reconstruction grid in patient LPS."""
    px = cam["pixel_mm"]
    n_slices = int(np.ceil(cam["axial_fov_mm"] / px))
    row = np.array([1.0, 0.0, 0.0]) if cam["position"] == "HFS" else np.array([-1.0, 0.0, 0.0])
    col = np.array([0.0, 1.0, 0.0])
    normal = np.cross(row, col)
    slice_dir = normal if cam["slice_order"] == "ascending" else -normal
    return np.array([cam["matrix"], cam["matrix"], n_slices]), np.array([px, px, px]), \
        np.column_stack([row, col, slice_dir])


def _resample(img: sitk.Image, size, spacing, direction, origin, transform=None) -> sitk.Image:
    f = sitk.ResampleImageFilter()
    f.SetSize([int(s) for s in size])
    f.SetOutputSpacing([float(s) for s in spacing])
    f.SetOutputDirection([float(v) for v in np.asarray(direction).ravel()])
    f.SetOutputOrigin([float(v) for v in origin])
    if transform is not None:
        f.SetTransform(transform)
    f.SetInterpolator(sitk.sitkLinear)
    f.SetDefaultPixelValue(0.0)
    f.SetOutputPixelType(sitk.sitkFloat32)
    f.SetNumberOfThreads(1)   # bit-reproducible
    return f.Execute(img)


def butterworth(arr: np.ndarray, spacing_zyx: tuple[float, float, float], order: int, cutoff_nyquist: float) -> np.ndarray:
    """3D Butterworth low-pass, cutoff as a fraction of the in-plane Nyquist frequency."""
    freqs = np.meshgrid(*[np.fft.fftfreq(n, d) for n, d in zip(arr.shape, spacing_zyx)], indexing="ij")
    f = np.sqrt(sum(q * q for q in freqs))
    fc = cutoff_nyquist / (2.0 * spacing_zyx[-1])
    h = 1.0 / np.sqrt(1.0 + (f / fc) ** (2 * order))
    return np.fft.ifftn(np.fft.fftn(arr) * h).real.astype(np.float32)


def acquire(activity: sitk.Image, centre_lps: np.ndarray, cam: dict[str, Any],
            noise_rng: np.random.Generator) -> sitk.Image:
    """The reconstructed image (Float32, patient LPS) of an MNI-space activity image."""
    size, spacing, direction = _grid(cam)
    fov_centre = np.array([0.0, 0.0, cam["table_z_mm"]])
    extent = (size - 1) * spacing
    inverse = np.linalg.inv(head_matrix(cam, centre_lps))
    tx = sitk.AffineTransform(3)
    tx.SetMatrix(inverse[:3, :3].ravel().tolist())
    tx.SetTranslation(inverse[:3, 3].tolist())
    # Fine grid in the camera's axes (LPS-aligned), covering the field of view.
    fine_size = np.ceil(extent / _FINE_MM).astype(int) + 1
    fine_origin = fov_centre - (fine_size - 1) * _FINE_MM / 2.0
    fine = _resample(activity, fine_size, [_FINE_MM] * 3, np.eye(3), fine_origin, tx)
    arr = sitk.GetArrayFromImage(fine)           # (z, y, x)
    sig_xy = cam["fwhm_mm"] / 2.3548 / _FINE_MM
    sig_z = cam["axial_fwhm_mm"] / 2.3548 / _FINE_MM
    arr = ndimage.gaussian_filter(arr, (sig_z, sig_xy, sig_xy), mode="constant", truncate=3.5)
    blurred = sitk.GetImageFromArray(arr)
    blurred.CopyInformation(fine)
    origin = fov_centre - direction @ (extent / 2.0)
    recon = _resample(blurred, size, spacing, direction, origin)
    expected = np.clip(sitk.GetArrayFromImage(recon), 0, None)
    total = float(expected.sum())
    if total <= 0:
        raise ValueError("the head fell outside the camera's field of view")
    lam = expected * np.float32(cam["total_counts"] / total)
    out = lam if cam["noise_free"] else noise_rng.poisson(lam).astype(np.float32)
    pf = cam.get("postfilter")
    if pf:
        out = butterworth(out, (spacing[2], spacing[1], spacing[0]), pf["order"], pf["cutoff_nyquist"])
    img = sitk.GetImageFromArray(np.ascontiguousarray(out, np.float32))
    img.CopyInformation(recon)
    return img
