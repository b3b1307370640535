"""The parts of the brain a field of view must hold, on the atlas grid.

A SPECT field of view that is too short or placed too high cuts the cerebellum, one placed too
low cuts the vertex, and a tilted or off-centre head can lose a temporal pole. Each part is a
mask on the atlas grid; the fraction of it inside a study's field of view (carried onto the
grid by the registration) says whether the study can be compared with the normal database.

The cerebellum is the CBL reference region (AAL2 cerebellar hemispheres and vermis); the
vertex is the top ``VERTEX_MM`` of the brain mask; a temporal pole is the front
``TEMPORAL_POLE_MM`` of the lateral temporal VOI of its side (AAL2 merges the temporal pole
labels into it, see :mod:`atlas.voi`).
"""
from __future__ import annotations

import numpy as np

from atlas.load import Atlas

VERTEX_MM = 20.0
TEMPORAL_POLE_MM = 20.0

# name -> words a sentence uses for it
PART_NAMES: dict[str, str] = {
    "cerebellum": "the cerebellum",
    "vertex": "the vertex",
    "temporal_pole_L": "the left temporal pole",
    "temporal_pole_R": "the right temporal pole",
}

COVERED = 0.5   # a voxel is inside the field of view when its resampled FOV indicator reaches this


def _world(atlas: Atlas, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ijk = np.argwhere(mask)
    return ijk, atlas.world_mm(ijk)


def _top(atlas: Atlas, mask: np.ndarray, axis: int, mm: float) -> np.ndarray:
    """The voxels of ``mask`` within ``mm`` of its largest RAS coordinate along ``axis``."""
    ijk, world = _world(atlas, mask)
    keep = ijk[world[:, axis] >= world[:, axis].max() - mm]
    out = np.zeros(mask.shape, bool)
    out[tuple(keep.T)] = True
    return out


def part_masks(atlas: Atlas) -> dict[str, np.ndarray]:
    """Boolean masks of the parts in :data:`PART_NAMES` order (cached on the atlas)."""
    key = ("coverage parts", VERTEX_MM, TEMPORAL_POLE_MM)
    if key not in atlas._samples:
        atlas._samples[key] = {
            "cerebellum": atlas.reference_mask("CBL"),
            "vertex": _top(atlas, atlas.brain, 2, VERTEX_MM),
            "temporal_pole_L": _top(atlas, atlas.voi_mask("lateral_temporal_L"), 1, TEMPORAL_POLE_MM),
            "temporal_pole_R": _top(atlas, atlas.voi_mask("lateral_temporal_R"), 1, TEMPORAL_POLE_MM),
        }
    return atlas._samples[key]


def covered_fractions(fov: np.ndarray, masks: dict[str, np.ndarray]) -> dict[str, float]:
    """Per mask, the fraction of its voxels inside the field of view (``fov`` on the atlas
    grid: 1 inside the original field of view, 0 outside, in between at its edge)."""
    inside = fov >= COVERED
    return {name: float(inside[m].mean()) if m.any() else 1.0 for name, m in masks.items()}
