"""A smooth multiplicative map from per-VOI ratios: how the phantom turns a table of regional
differences (another tracer, the published normal pattern) into activity on the atlas grid.

The ratio holds inside each VOI and changes across its border over ``edge_fwhm_mm`` (a Gaussian
of the step), so no factor draws a VOI's edge into the image. Maps are cached per atlas and key;
callers must not modify them (they are read-only arrays).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from atlas.load import Atlas

_CACHE: dict[tuple[int, str], tuple[Atlas, np.ndarray]] = {}


def regional_factor(atlas: Atlas, key: str, ratios: dict[int, float], edge_fwhm_mm: float) -> np.ndarray:
    """1 outside the listed atlas labels, ``ratios[label]`` inside, blurred across the borders."""
    hit = _CACHE.get((id(atlas), key))
    if hit is None or hit[0] is not atlas:
        lut = np.zeros(256, np.float32)
        for label, ratio in ratios.items():
            lut[label] = ratio - 1.0
        delta = lut[atlas.labels]
        sigma = edge_fwhm_mm / 2.3548 / float(abs(atlas.affine[0, 0]))
        factor = (1.0 + ndimage.gaussian_filter(delta, sigma, mode="constant", truncate=3.0)).astype(np.float32)
        factor.setflags(write=False)
        _CACHE[(id(atlas), key)] = hit = (atlas, factor)
    return hit[1]
