"""The CNN input: chosen surface views side by side on one image, always at the same places.

Two layouts, named by their grid (rows x columns):

- ``2x2``, the paper's: RT.LAT | LT.LAT over RT.MED | LT.MED, a square image;
- ``2x3``: the same four with POST over INF added as a third column, so the lateral occipital
  cortex and the occipital pole (POST) and the occipital base (INF: lingual, fusiform gyri),
  where DLB shows and where the four views only reach at their edges, are seen face on. The
  image is 1.5 times as wide as high, so every view keeps the pixels it has in ``2x2``.

Black background, grey surface with the Z rainbow between the display thresholds (lower,
upper), resized to ``size`` pixels high. A model card names its layout; cards written before
there was a choice are ``2x2``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from atlas.surface import VIEWS, Surface
from atlas.render.layout import cell_size, pad_to_cell, view_rgb
from spectssp.core.colormap import view_array


@dataclass(frozen=True)
class CompositeLayout:
    """Views of the CNN input, row by row (every row the same length)."""

    name: str
    rows: tuple[tuple[str, ...], ...]

    @property
    def views(self) -> tuple[str, ...]:
        return tuple(v for row in self.rows for v in row)

    @property
    def grid(self) -> tuple[int, int]:
        return len(self.rows), len(self.rows[0])

    def cells(self) -> list[tuple[int, int, str]]:
        """(row, column, view) of every cell."""
        return [(r, c, v) for r, row in enumerate(self.rows) for c, v in enumerate(row)]

    def shape(self, size: int) -> tuple[int, int]:
        """(height, width) in pixels of a composite ``size`` pixels high."""
        n_rows, n_cols = self.grid
        return size, size * n_cols // n_rows     # the right edge of the last box of view_boxes

    def describe(self) -> str:
        """As the model card states it, e.g. '2x2 composite RT.LAT | LT.LAT / RT.MED | LT.MED'."""
        return f"{self.name} composite " + " / ".join(" | ".join(row) for row in self.rows)

    def place(self, cells: dict[str, np.ndarray]) -> np.ndarray:
        """One canvas with each view's cell (all the same square size) at its place."""
        first = next(iter(cells.values()))
        s = first.shape[0]
        n_rows, n_cols = self.grid
        canvas = np.zeros((n_rows * s, n_cols * s) + first.shape[2:], first.dtype)
        for r, c, v in self.cells():
            canvas[r * s:(r + 1) * s, c * s:(c + 1) * s] = cells[v]
        return canvas

    def fit(self, canvas: np.ndarray, size: int) -> np.ndarray:
        """``canvas`` (from :meth:`place`, uint8 RGB or float32) resized to ``size`` pixels high."""
        h, w = self.shape(size)
        image = Image.fromarray(canvas, mode="F") if canvas.dtype == np.float32 else Image.fromarray(canvas)
        return np.asarray(image.resize((w, h), Image.BILINEAR), canvas.dtype)

    def view_boxes(self, size: int) -> dict[str, tuple[int, int, int, int]]:
        """Pixel box (top, left, bottom, right) of each view in a composite ``size`` high."""
        h = size / self.grid[0]
        return {v: (int(r * h), int(c * h), int((r + 1) * h), int((c + 1) * h)) for r, c, v in self.cells()}


LAYOUTS: dict[str, CompositeLayout] = {
    "2x2": CompositeLayout("2x2", (("RT.LAT", "LT.LAT"), ("RT.MED", "LT.MED"))),
    "2x3": CompositeLayout("2x3", (("RT.LAT", "LT.LAT", "POST"), ("RT.MED", "LT.MED", "INF"))),
}
PAPER_LAYOUT = LAYOUTS["2x2"]
assert all(v in VIEWS for lay in LAYOUTS.values() for v in lay.views)


def get_layout(name: str) -> CompositeLayout:
    """The layout called ``name``; ValueError naming the choices otherwise."""
    try:
        return LAYOUTS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown composite layout {name!r}; choose from {', '.join(LAYOUTS)}") from None


def card_layout(card: dict[str, Any]) -> CompositeLayout:
    """The layout a model card's ``input.views`` names; ``2x2`` for cards without it."""
    return get_layout((card.get("input") or {}).get("views", "2x2"))


def composite(surface: Surface, z: np.ndarray, z_min: float = 0.0, z_max: float = 5.0,
              size: int = 227, layout: CompositeLayout = PAPER_LAYOUT) -> np.ndarray:
    """(size, width, 3) uint8 composite of the layout's views (width: ``layout.shape``)."""
    return layout.fit(layout.place({v: view_rgb(surface, v, z, z_min, z_max) for v in layout.views}), size)


def values_image(surface: Surface, values: np.ndarray, size: int,
                 layout: CompositeLayout = PAPER_LAYOUT) -> np.ndarray:
    """(size, width) float32: per-surface-pixel ``values`` placed like the composite's views."""
    s = cell_size(surface)
    return layout.fit(layout.place({v: pad_to_cell(view_array(values, surface.pixel_maps[v], 0.0).astype(np.float32), s)
                                    for v in layout.views}), size)

