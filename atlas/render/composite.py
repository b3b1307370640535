"""The CNN input: right lateral, left lateral, right medial, left medial on one square image.

Fixed 2 x 2 layout (RT.LAT | LT.LAT over RT.MED | LT.MED), black background, grey surface with
the Z rainbow between the display thresholds (lower, upper), resized to the network input.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from atlas.surface import CNN_VIEWS, Surface
from atlas.render.layout import view_rgb

GRID = ((0, 0), (0, 1), (1, 0), (1, 1))  # positions of CNN_VIEWS


def composite(surface: Surface, z: np.ndarray, z_min: float = 0.0, z_max: float = 5.0,
              size: int = 227) -> np.ndarray:
    """(size, size, 3) uint8 composite of the four dementia views."""
    cells = [view_rgb(surface, v, z, z_min, z_max) for v in CNN_VIEWS]
    s = cells[0].shape[0]
    canvas = np.zeros((2 * s, 2 * s, 3), np.uint8)
    for (r, c), cell in zip(GRID, cells):
        canvas[r * s:(r + 1) * s, c * s:(c + 1) * s] = cell
    return np.asarray(Image.fromarray(canvas).resize((size, size), Image.BILINEAR))


def view_boxes(size: int) -> dict[str, tuple[int, int, int, int]]:
    """Pixel box (top, left, bottom, right) of each view in a composite of ``size``."""
    h = size / 2
    return {v: (int(r * h), int(c * h), int((r + 1) * h), int((c + 1) * h)) for v, (r, c) in zip(CNN_VIEWS, GRID)}
