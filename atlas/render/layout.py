"""View images on a fixed canvas: every view padded into the same square cell, so a pixel
always means the same place of the brain (the paper puts the views 'always at the same
coordinates')."""
from __future__ import annotations

import numpy as np

from atlas.surface import Surface
from spectssp.core.colormap import overlay, view_array


def cell_size(surface: Surface) -> int:
    return max(max(m.shape) for m in surface.pixel_maps.values())


def pad_to_cell(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    top, left = (size - h) // 2, (size - w) // 2
    out = np.zeros((size, size) + img.shape[2:], dtype=img.dtype)
    out[top:top + h, left:left + w] = img
    return out


def view_rgb(surface: Surface, view: str, z: np.ndarray | None, z_min: float, z_max: float) -> np.ndarray:
    """(S, S, 3) uint8: the view's grey surface with Z (P,) in rainbow; ``z=None``: grey only."""
    pmap = surface.pixel_maps[view]
    present = pmap >= 0
    shade = view_array(surface.shading, pmap, 0.0)
    zimg = view_array(z, pmap) if z is not None else np.full(pmap.shape, np.nan, np.float32)
    return pad_to_cell(overlay(zimg, shade, present, z_min, z_max), cell_size(surface))
