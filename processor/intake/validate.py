"""Per-series checks that decide accepted or rejected, each with a code and one sentence.

Checks on header values run before any pixel data is read, so a forged header (huge
Rows x Columns x NumberOfFrames) is rejected without allocating memory.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from spectssp.errors import ErrorCode
from spectssp.errors import SpectSSPError

NM_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.20"
PET_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
SUPPORTED_SOP_CLASSES = {NM_IMAGE_STORAGE: "NM Image Storage", PET_IMAGE_STORAGE: "PET Image Storage"}
SUPPORTED_MODALITIES = ("NM", "PT")

# NM Image Type value 3: everything that is not a reconstructed volume.
_NOT_RECONSTRUCTED = {"STATIC", "DYNAMIC", "WHOLE BODY", "GATED", "TOMO", "GATED TOMO"}
_GATED_RECON = "RECON GATED TOMO"
# Frame vectors other than SliceVector: more than one distinct value means the frames hold
# several volumes (energy windows, detectors, phases, time slots) and not one volume.
_OTHER_VECTORS = {
    "EnergyWindowVector": "energy windows", "DetectorVector": "detectors", "PhaseVector": "phases",
    "RotationVector": "rotations", "RRIntervalVector": "R-R intervals", "TimeSlotVector": "time slots",
    "AngularViewVector": "angular views", "TimeSliceVector": "time slices",
}
_BITS = (8, 16, 32)


def value(ds: Dataset, keyword: str, default: Any = None) -> Any:
    """An element's value, or ``default`` when absent or empty."""
    v = ds.get(keyword, None)
    if v is None or v == "" or (hasattr(v, "__len__") and not isinstance(v, str) and len(v) == 0):
        return default
    return v


def as_int(ds: Dataset, keyword: str, default: int | None = None) -> int | None:
    v = value(ds, keyword, None)
    if v is None:
        return default
    try:
        return int(v)
    except (TypeError, ValueError):
        raise SpectSSPError(ErrorCode.UNREADABLE, f"{keyword} {str(v)[:32]!r} is not an integer.") from None


def as_floats(ds: Dataset, keyword: str) -> list[float] | None:
    v = value(ds, keyword, None)
    if v is None:
        return None
    try:
        return [float(x) for x in as_list(v)]
    except (TypeError, ValueError):
        raise SpectSSPError(ErrorCode.INCONSISTENT_GEOMETRY, f"{keyword} {str(v)[:40]!r} is not numeric.") from None


def as_list(v: Any) -> list[Any]:
    """pydicom gives a bare value for VM 1 and a MultiValue otherwise."""
    if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
        return [v]
    return list(v)


def image_type(ds: Dataset) -> list[str]:
    v = value(ds, "ImageType", [])
    if isinstance(v, str):
        v = v.split("\\")
    return [str(x).strip().upper() for x in v]


def check_kind(ds: Dataset) -> list[str]:
    """Modality, SOP class and (for NM) Image Type; returns warnings."""
    modality = str(value(ds, "Modality", "") or "").strip().upper()
    if modality not in SUPPORTED_MODALITIES:
        shown = modality or "missing"
        raise SpectSSPError(ErrorCode.UNSUPPORTED_MODALITY,
                            f"modality {shown} is not supported; brain perfusion SPECT (NM) is expected.")
    sop = str(value(ds, "SOPClassUID", "") or "")
    if sop not in SUPPORTED_SOP_CLASSES:
        raise SpectSSPError(ErrorCode.UNSUPPORTED_SOP_CLASS,
                            f"SOP class {sop or 'missing'} is not supported; NM Image Storage or a PET/NM slice series is expected.")
    warnings: list[str] = []
    if modality == "NM":
        kinds = image_type(ds)
        recon = [k for k in kinds if k.startswith("RECON")]
        if _GATED_RECON in kinds:
            raise SpectSSPError(ErrorCode.UNSUPPORTED_IMAGE, "gated reconstructed tomography (RECON GATED TOMO) is not supported.")
        if not recon:
            planar = sorted(_NOT_RECONSTRUCTED.intersection(kinds))
            if planar:
                raise SpectSSPError(ErrorCode.PLANAR,
                                    f"image type {planar[0]} is not a reconstructed volume (RECON TOMO expected).")
            warnings.append("ImageType does not say RECON TOMO; treated as a reconstructed volume from its geometry.")
    return warnings


def check_pixel_format(ds: Dataset) -> None:
    """Only grey-scale integer pixels of common widths are decoded."""
    spp = as_int(ds, "SamplesPerPixel", 1)
    if spp != 1:
        raise SpectSSPError(ErrorCode.UNSUPPORTED_IMAGE, f"images with {spp} samples per pixel (colour) are not supported.")
    bits = as_int(ds, "BitsAllocated", None)
    if bits not in _BITS:
        raise SpectSSPError(ErrorCode.UNSUPPORTED_IMAGE, f"BitsAllocated {bits} is not supported (8, 16 or 32 expected).")


def check_frame_vectors(ds: Dataset) -> None:
    for keyword, what in _OTHER_VECTORS.items():
        v = value(ds, keyword, None)
        if v is not None and len(set(as_list(v))) > 1:
            raise SpectSSPError(ErrorCode.UNSUPPORTED_IMAGE, f"the frames hold several {what}, not one reconstructed volume.")


def check_size(rows: int | None, cols: int | None, slices: int, max_voxels: int) -> None:
    """Header-declared size must be plausible before any pixel data is allocated."""
    if rows is None or cols is None:
        raise SpectSSPError(ErrorCode.NO_PIXEL_DATA, "Rows or Columns is missing.")
    if rows < 2 or cols < 2 or slices < 1:
        raise SpectSSPError(ErrorCode.IMPLAUSIBLE_SIZE, f"matrix {cols}x{rows}x{slices} is too small for a volume.")
    total = rows * cols * slices
    if total > max_voxels:
        raise SpectSSPError(ErrorCode.IMPLAUSIBLE_SIZE,
                            f"matrix {cols}x{rows}x{slices} ({total} voxels) exceeds the limit of {max_voxels} voxels.")


def check_counts(arr: np.ndarray) -> None:
    """A volume with no contrast cannot be registered or normalised."""
    if arr.size == 0:
        raise SpectSSPError(ErrorCode.NO_PIXEL_DATA, "the volume is empty.")
    if not np.all(np.isfinite(arr)):
        raise SpectSSPError(ErrorCode.DEGENERATE_COUNTS, "the volume contains NaN or infinite values.")
    lo, hi = float(arr.min()), float(arr.max())
    if lo == hi == 0:
        raise SpectSSPError(ErrorCode.DEGENERATE_COUNTS, "all voxels are zero.")
    if lo == hi:
        raise SpectSSPError(ErrorCode.DEGENERATE_COUNTS, f"all voxels have the same value ({lo:g}).")
