"""Pixel data and geometry of one series into a float32 SimpleITK image.

Two layouts occur in practice: one NM multi-frame object (geometry in
DetectorInformationSequence, frames ordered by SliceVector) and one file per slice (position
in each file). Both end in the same :class:`Grid` convention as ``sitk.ReadImage``.
"""
from __future__ import annotations

import logging
import warnings
from typing import Sequence

import numpy as np
import SimpleITK as sitk
from pydicom.dataset import Dataset

from spectssp.errors import ErrorCode
from spectssp.errors import SpectSSPError
from processor.intake.geometry import Grid, multiframe_grid, stack_slices
from processor.intake.validate import as_floats, as_int, as_list, check_frame_vectors, value

log = logging.getLogger(__name__)


def _position_source(ds: Dataset) -> Dataset:
    """NM keeps position/orientation in DetectorInformationSequence; others at the top level."""
    det = value(ds, "DetectorInformationSequence", None)
    if det:
        item = det[0]
        if "ImagePositionPatient" in item and "ImageOrientationPatient" in item:
            return item
    return ds


def _position(ds: Dataset) -> tuple[list[float], list[float]]:
    src = _position_source(ds)
    ipp, iop = as_floats(src, "ImagePositionPatient"), as_floats(src, "ImageOrientationPatient")
    if ipp is None or iop is None:
        raise SpectSSPError(ErrorCode.INCONSISTENT_GEOMETRY,
                            "ImagePositionPatient or ImageOrientationPatient is missing, so the volume cannot be placed.")
    return ipp, iop


def _pixel_spacing(ds: Dataset) -> list[float]:
    ps = as_floats(ds, "PixelSpacing")
    if ps is None:
        raise SpectSSPError(ErrorCode.INCONSISTENT_GEOMETRY, "PixelSpacing is missing.")
    return ps


def _rescale(ds: Dataset, arr: np.ndarray) -> np.ndarray:
    """Counts after RescaleSlope/Intercept, computed in float64 to keep integer precision."""
    slope = as_floats(ds, "RescaleSlope")
    intercept = as_floats(ds, "RescaleIntercept")
    out = arr.astype(np.float64)
    if slope is not None and slope[0] != 1.0:
        out *= slope[0]
    if intercept is not None and intercept[0] != 0.0:
        out += intercept[0]
    return out


def pixel_array(ds: Dataset, frames: int) -> np.ndarray:
    """Decoded pixels as (frames, rows, cols); any decoder failure is UNREADABLE."""
    if "PixelData" not in ds:
        alt = "FloatPixelData" in ds or "DoubleFloatPixelData" in ds
        raise SpectSSPError(ErrorCode.UNSUPPORTED_IMAGE if alt else ErrorCode.NO_PIXEL_DATA,
                            "float pixel data is not supported." if alt else "the object has no pixel data.")
    try:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            arr = ds.pixel_array
    except MemoryError:
        raise SpectSSPError(ErrorCode.IMPLAUSIBLE_SIZE, "pixel data does not fit in memory.") from None
    except Exception as exc:
        log.debug("pixel decoding failed", exc_info=True)
        ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        reason = str(exc).split(" - ")[0].strip().rstrip(".")[:120]
        raise SpectSSPError(ErrorCode.UNREADABLE,
                            f"pixel data cannot be decoded (transfer syntax {ts}): {reason}.") from None
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    if arr.ndim != 3 or arr.shape[0] != frames:
        raise SpectSSPError(ErrorCode.UNREADABLE, f"pixel data has shape {arr.shape}, not {frames} frames.")
    return arr


def multiframe_volume(ds: Dataset, warn: list[str] | None = None) -> tuple[np.ndarray, Grid]:
    """(z, y, x) counts and grid of one NM reconstructed multi-frame object with pixel data."""
    warn = warn if warn is not None else []
    frames = as_int(ds, "NumberOfFrames", 1) or 1
    check_frame_vectors(ds)
    ipp, iop = _position(ds)
    ps = _pixel_spacing(ds)
    sbs = as_floats(ds, "SpacingBetweenSlices")
    if sbs is None:
        thick = as_floats(ds, "SliceThickness")
        if thick is None:
            raise SpectSSPError(ErrorCode.INCONSISTENT_GEOMETRY,
                                "SpacingBetweenSlices and SliceThickness are both missing, so the slice spacing is unknown.")
        sbs = thick
        warn.append("SpacingBetweenSlices is missing; SliceThickness used, slices assumed along the row x column normal.")
    vector = value(ds, "SliceVector", None)
    if vector is None:
        order = np.arange(frames)
        first = 1
        warn.append("SliceVector is missing; frames taken in stored order.")
    else:
        try:
            sv = [int(v) for v in as_list(vector)]
        except (TypeError, ValueError):
            sv = []
        if len(sv) != frames or sorted(sv) != list(range(1, frames + 1)):
            raise SpectSSPError(ErrorCode.INCONSISTENT_GEOMETRY,
                                f"SliceVector does not number the {frames} frames 1 to {frames} once each.")
        order = np.argsort(sv, kind="stable")
        first = sv[0]
    grid = multiframe_grid(ipp, iop, ps, sbs[0], first_slice=first)
    arr = pixel_array(ds, frames)[order]
    return _rescale(ds, arr), grid


def slice_geometry(headers: Sequence[Dataset]) -> tuple[np.ndarray, Grid]:
    """Order and grid of a one-file-per-slice series, from headers alone (no pixel data)."""
    shapes = {(as_int(h, "Rows"), as_int(h, "Columns")) for h in headers}
    if len(shapes) > 1:
        raise SpectSSPError(ErrorCode.INCONSISTENT_GEOMETRY,
                            f"slices have different matrix sizes ({', '.join(f'{c}x{r}' for r, c in sorted(shapes, key=str))}).")
    positions, orients, spacings = [], [], []
    for h in headers:
        ipp, iop = _position(h)
        positions.append(ipp)
        orients.append(iop)
        spacings.append(_pixel_spacing(h))
    if np.max(np.abs(np.asarray(orients, float) - np.asarray(orients[0], float))) > 1e-4:
        raise SpectSSPError(ErrorCode.INCONSISTENT_GEOMETRY, "slices have different ImageOrientationPatient.")
    if np.max(np.abs(np.asarray(spacings, float) - np.asarray(spacings[0], float))) > 1e-4:
        raise SpectSSPError(ErrorCode.INCONSISTENT_GEOMETRY, "slices have different PixelSpacing.")
    return stack_slices(positions, orients[0], spacings[0])


def slice_plane(ds: Dataset) -> np.ndarray:
    """(y, x) counts of one single-slice dataset with pixel data; rescale is per slice (PET)."""
    return _rescale(ds, pixel_array(ds, 1))[0]


def to_image(arr: np.ndarray, grid: Grid) -> sitk.Image:
    """float32 SimpleITK image with the grid's exact origin, spacing and direction."""
    img = sitk.GetImageFromArray(np.ascontiguousarray(arr, dtype=np.float32))
    img.SetOrigin(tuple(float(v) for v in grid.origin))
    img.SetSpacing(tuple(float(v) for v in grid.spacing))
    img.SetDirection(tuple(float(v) for v in grid.direction.ravel()))
    return img
