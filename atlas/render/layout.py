"""View images on a fixed canvas: every view padded into the same square cell, so a pixel
always means the same place of the brain (the paper puts the views 'always at the same
coordinates')."""
from __future__ import annotations

import numpy as np

from atlas.surface import Surface
from spectssp.core.colormap import colourise, grey_surface, view_array

_GREY: dict[tuple[int, str], tuple] = {}   # (id(surface), view) -> (surface, shading, grey, present)


def cell_size(surface: Surface) -> int:
    return max(max(m.shape) for m in surface.pixel_maps.values())


def pad_to_cell(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    top, left = (size - h) // 2, (size - w) // 2
    out = np.zeros((size, size) + img.shape[2:], dtype=img.dtype)
    out[top:top + h, left:left + w] = img
    return out


def grey_view(surface: Surface, view: str) -> tuple[np.ndarray, np.ndarray]:
    """(grey surface (H, W, 3) uint8, pixels on the surface (H, W)) of one view, read-only. The
    same for every study, so made once per surface and shading (a sheet has 40 views)."""
    key = (id(surface), view)
    hit = _GREY.get(key)
    if hit is None or hit[0] is not surface or hit[1] is not surface.shading:
        if len(_GREY) > 64:   # a few atlases per process at most; never grow without bound
            _GREY.clear()
        pmap = surface.pixel_maps[view]
        present = pmap >= 0
        grey = grey_surface(view_array(surface.shading, pmap, 0.0), present)
        grey.setflags(write=False)
        present.setflags(write=False)
        hit = _GREY[key] = (surface, surface.shading, grey, present)
    return hit[2], hit[3]


def view_rgb(surface: Surface, view: str, z: np.ndarray | None, z_min: float, z_max: float) -> np.ndarray:
    """(S, S, 3) uint8: the view's grey surface with Z (P,) in rainbow; ``z=None``: grey only.

    The same pixels as :func:`spectssp.core.colormap.overlay` of the whole view, with the grey
    surface cached and the colours computed on the surface pixels only."""
    grey, present = grey_view(surface, view)
    out = grey.copy()
    if z is not None:
        values = np.asarray(z)[surface.pixel_maps[view][present]].astype(np.float32)  # as view_array stores them
        rgb, shown = colourise(values, z_min, z_max)
        on = out[present]
        on[shown] = rgb[shown]
        out[present] = on
    return pad_to_cell(out, cell_size(surface))
