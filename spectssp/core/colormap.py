"""Rainbow Z colour scale and surface shading: pure numpy (arrays in, arrays out)."""
from __future__ import annotations

import numpy as np

# NEUROSTAT-like rainbow from low to high Z: purple, blue, cyan, green, yellow, orange, red.
_STOPS = np.array([
    [0.00, 110, 0, 170],
    [0.15, 0, 0, 255],
    [0.32, 0, 190, 255],
    [0.50, 0, 220, 0],
    [0.67, 255, 255, 0],
    [0.84, 255, 128, 0],
    [1.00, 255, 0, 0],
], dtype=np.float64)


def rainbow_lut(n: int = 256) -> np.ndarray:
    """(n, 3) uint8 lookup table."""
    x = np.linspace(0, 1, n)
    return np.stack([np.interp(x, _STOPS[:, 0], _STOPS[:, c]) for c in (1, 2, 3)], axis=1).round().astype(np.uint8)


LUT = rainbow_lut()


def colourise(z: np.ndarray, z_min: float, z_max: float) -> tuple[np.ndarray, np.ndarray]:
    """RGB (..., 3) uint8 of Z on a fixed [z_min, z_max] range, and a mask of the pixels shown.

    Pixels with Z at or below ``z_min`` (or NaN) are transparent, as on the NEUROSTAT sheet;
    values above ``z_max`` saturate at the top colour.
    """
    zz = np.nan_to_num(z, nan=-np.inf)
    shown = zz > z_min
    t = np.clip((zz - z_min) / (z_max - z_min), 0, 1)
    idx = np.round(t * (len(LUT) - 1)).astype(np.int64)
    return LUT[idx], shown


def grey_surface(shading: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Grey anatomical surface (..., 3) uint8 from Lambert shading in [0, 1]; black background."""
    g = np.where(present, 60 + 170 * np.clip(shading, 0, 1), 0).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=-1)


def overlay(z: np.ndarray, shading: np.ndarray, present: np.ndarray, z_min: float, z_max: float) -> np.ndarray:
    """Z rainbow over the grey surface; transparent below ``z_min``."""
    base = grey_surface(shading, present)
    rgb, shown = colourise(z, z_min, z_max)
    shown &= present
    base[shown] = rgb[shown]
    return base


def view_array(values: np.ndarray, pixel_map: np.ndarray, fill: float = np.nan) -> np.ndarray:
    """Scatter per-surface-pixel ``values`` (P,) into a view's (H, W) image."""
    out = np.full(pixel_map.shape, fill, dtype=np.float32)
    hit = pixel_map >= 0
    out[hit] = values[pixel_map[hit]]
    return out
