"""World geometry of a volume from DICOM values: pure numpy, no file access.

Conventions follow ITK/SimpleITK in LPS: ``origin`` is the centre of voxel (0, 0, 0);
``spacing`` is (x, y, z) = (column step, row step, slice step) in mm; ``direction`` has the
world directions of the x, y and z index axes as its columns. A negative
SpacingBetweenSlices makes the z axis point against the row x column normal, so the
direction may have determinant -1; this is what SimpleITK's own reader returns, and it keeps
voxel order exactly as stored.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from spectssp.errors import ErrorCode
from spectssp.errors import SpectSSPError

_ORTHO_TOL = 1e-3      # direction cosines are written with limited precision
_SPACING_REL_TOL = 0.02  # uneven slice spacing beyond 2 % is a missing or misplaced slice


@dataclass(frozen=True)
class Grid:
    """Index-to-world mapping of a 3D volume."""

    origin: np.ndarray     # (3,)
    spacing: np.ndarray    # (3,) x, y, z
    direction: np.ndarray  # (3, 3), columns are the axes

    def affine(self) -> np.ndarray:
        """4x4 matrix mapping (i, j, k, 1) to LPS millimetres."""
        a = np.eye(4)
        a[:3, :3] = self.direction @ np.diag(self.spacing)
        a[:3, 3] = self.origin
        return a


def _geom_error(message: str) -> SpectSSPError:
    return SpectSSPError(ErrorCode.INCONSISTENT_GEOMETRY, message)


def orientation(iop: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row direction, column direction and their normal from ImageOrientationPatient."""
    v = np.asarray(iop, dtype=float)
    if v.shape != (6,) or not np.all(np.isfinite(v)):
        raise _geom_error("ImageOrientationPatient must hold six finite numbers.")
    row, col = v[:3], v[3:]
    nr, nc = np.linalg.norm(row), np.linalg.norm(col)
    if abs(nr - 1) > 0.01 or abs(nc - 1) > 0.01 or abs(np.dot(row, col)) > 0.01:
        raise _geom_error("ImageOrientationPatient is not two orthogonal unit vectors.")
    row = row / nr
    col = col - np.dot(col, row) * row  # remove the rounding residue so the matrix is orthonormal
    col = col / np.linalg.norm(col)
    return row, col, np.cross(row, col)


def in_plane_spacing(pixel_spacing: Sequence[float]) -> tuple[float, float]:
    """(x, y) spacing: PixelSpacing is (between rows, between columns), i.e. (y, x)."""
    v = np.asarray(pixel_spacing, dtype=float)
    if v.shape != (2,) or not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise _geom_error("PixelSpacing must hold two positive numbers.")
    return float(v[1]), float(v[0])


def multiframe_grid(ipp: Sequence[float], iop: Sequence[float], pixel_spacing: Sequence[float],
                    spacing_between_slices: float, first_slice: int = 1) -> Grid:
    """Grid of an NM reconstructed multi-frame volume, slices ordered by slice number.

    ``ipp`` is the position of the first stored frame, whose slice number is ``first_slice``;
    slice ``s`` lies at ``ipp + (s - first_slice) * SpacingBetweenSlices * normal``.
    """
    row, col, normal = orientation(iop)
    sx, sy = in_plane_spacing(pixel_spacing)
    pos = np.asarray(ipp, dtype=float)
    if pos.shape != (3,) or not np.all(np.isfinite(pos)):
        raise _geom_error("ImagePositionPatient must hold three finite numbers.")
    sbs = float(spacing_between_slices)
    if not np.isfinite(sbs) or sbs == 0:
        raise _geom_error("SpacingBetweenSlices must be a non-zero number.")
    origin = pos + (1 - first_slice) * sbs * normal
    direction = np.column_stack([row, col, np.sign(sbs) * normal])
    return Grid(origin=origin, spacing=np.array([sx, sy, abs(sbs)]), direction=direction)


def stack_slices(positions: Sequence[Sequence[float]], iop: Sequence[float],
                 pixel_spacing: Sequence[float]) -> tuple[np.ndarray, Grid]:
    """Order single-slice images along the row x column normal and check even spacing.

    Returns the order (indices into ``positions``, first = lowest along the normal) and the
    grid of the stacked volume.
    """
    row, col, normal = orientation(iop)
    sx, sy = in_plane_spacing(pixel_spacing)
    pos = np.asarray(positions, dtype=float)
    if pos.ndim != 2 or pos.shape[1] != 3 or not np.all(np.isfinite(pos)):
        raise _geom_error("every slice needs an ImagePositionPatient of three finite numbers.")
    if len(pos) < 2:
        raise _geom_error("a slice series needs at least two slices.")
    along = pos @ normal
    order = np.argsort(along, kind="stable")
    along, pos = along[order], pos[order]
    steps = np.diff(along)
    step = float(np.mean(steps))
    if np.any(steps <= 1e-3 * max(sx, sy)):
        raise _geom_error("two or more slices share the same position.")
    if np.max(np.abs(steps - step)) > _SPACING_REL_TOL * step:
        raise _geom_error(
            f"slice spacing is uneven ({steps.min():.3g} to {steps.max():.3g} mm): a slice is missing or misplaced.")
    shear = pos - pos[0] - np.outer(along - along[0], normal)
    if np.max(np.linalg.norm(shear, axis=1)) > 0.05 * min(sx, sy):
        raise _geom_error("slice positions do not stack along the slice normal (tilted or shifted slices).")
    direction = np.column_stack([row, col, normal])
    return order, Grid(origin=pos[0], spacing=np.array([sx, sy, step]), direction=direction)
