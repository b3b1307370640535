"""The 3D-SSP sheet as readers know it from NEUROSTAT/iSSP.

Black background; title and date on top; 8 columns RT.LAT, LT.LAT, SUP, INF, ANT, POST,
RT.MED, LT.MED; first row the grey template surface, then one row per reference region with
the Z map in rainbow over the grey surface (Z below the lower threshold transparent); L/R
markers on SUP, INF, ANT, POST; a vertical colour bar labelled Z on a fixed range; the
research-use banner and software version at the bottom.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from atlas.surface import VIEWS, Surface
from spectssp import RESEARCH_BANNER, SOFTWARE_NAME, __version__
from spectssp.core.colormap import LUT
from atlas.render.layout import cell_size, grey_view, view_rgb
from processor.render.text import font

SCALE = 2          # screen pixels per 2 mm surface pixel
MARGIN = 16
LABEL_W = 70       # left column with the row names
BAR_W = 110        # colour bar column
HEADER_H = 96
FOOTER_H = 64
# (left marker, right marker) as the subject's sides appear in each view (atlas/surface.py).
LR_MARKERS = {"SUP": ("L", "R"), "INF": ("R", "L"), "ANT": ("R", "L"), "POST": ("L", "R")}


@dataclass
class SheetInfo:
    title: str                 # e.g. "3D-SSP Z-score  Decrease"
    patient_id: str
    study_date: str            # YYYY-MM-DD or ""
    extra: str = ""            # e.g. normal database and tracer


def render_sheet(surface: Surface, z_rows: dict[str, np.ndarray], info: SheetInfo,
                 z_min: float = 0.0, z_max: float = 5.0) -> np.ndarray:
    """(H, W, 3) uint8 sheet; ``z_rows`` maps reference name -> Z (P,), in display order."""
    cell = cell_size(surface) * SCALE
    rows = [("TEMPLATE", None)] + list(z_rows.items())
    width = MARGIN + LABEL_W + len(VIEWS) * cell + BAR_W + MARGIN
    height = HEADER_H + 28 + len(rows) * cell + FOOTER_H
    img = Image.new("RGB", (width, height), (0, 0, 0))
    draw = ImageDraw.Draw(img)
    white, grey = (255, 255, 255), (180, 180, 180)
    draw.text((MARGIN, 10), info.title, fill=white, font=font(30, bold=True))
    meta = f"ID: {info.patient_id}    Date: {info.study_date or 'unknown'}"
    draw.text((MARGIN, 52), meta, fill=grey, font=font(18))
    if info.extra:
        draw.text((width - MARGIN - BAR_W - draw.textlength(info.extra, font=font(16)), 56), info.extra,
                  fill=grey, font=font(16))
    x0 = MARGIN + LABEL_W
    y_names = HEADER_H
    for c, view in enumerate(VIEWS):
        tw = draw.textlength(view, font=font(18, bold=True))
        draw.text((x0 + c * cell + (cell - tw) / 2, y_names), view, fill=white, font=font(18, bold=True))
    markers = _marker_columns(surface, cell)
    y0 = HEADER_H + 28
    for r, (name, z) in enumerate(rows):
        top = y0 + r * cell
        draw.text((MARGIN, top + cell / 2 - 10), name if name != "TEMPLATE" else "", fill=white, font=font(18, bold=True))
        for c, view in enumerate(VIEWS):
            img.paste(_tile(surface, view, z, z_min, z_max, cell), (x0 + c * cell, top))
            if view in LR_MARKERS:
                (left, right), (xl, xr) = LR_MARKERS[view], markers[view]
                draw.text((x0 + c * cell + xl, top + 2), left, fill=white, font=font(16, bold=True))
                draw.text((x0 + c * cell + xr, top + 2), right, fill=white, font=font(16, bold=True))
    _colour_bar(draw, img, x0 + len(VIEWS) * cell + 30, y0 + cell, len(rows) * cell - cell, z_min, z_max)
    banner = f"{RESEARCH_BANNER}    {SOFTWARE_NAME} {__version__}"
    draw.text((MARGIN, height - FOOTER_H + 18), banner, fill=(255, 210, 0), font=font(20, bold=True))
    return np.asarray(img)


_TEMPLATE_TILES: dict[tuple[str, int], tuple[np.ndarray, Image.Image]] = {}


def _tile(surface: Surface, view: str, z: np.ndarray | None, z_min: float, z_max: float, cell: int) -> Image.Image:
    """One view at sheet scale; the TEMPLATE row (``z`` None) is the same for every sheet and
    study, so it is resized once per grey surface."""
    if z is None:
        grey = grey_view(surface, view)[0]
        hit = _TEMPLATE_TILES.get((view, cell))
        if hit is None or hit[0] is not grey:
            hit = _TEMPLATE_TILES[(view, cell)] = (grey, _resize(view_rgb(surface, view, None, z_min, z_max), cell))
        return hit[1]
    return _resize(view_rgb(surface, view, z, z_min, z_max), cell)


def _resize(rgb: np.ndarray, cell: int) -> Image.Image:
    return Image.fromarray(rgb).resize((cell, cell), Image.BILINEAR)


def _marker_columns(surface: Surface, cell: int) -> dict[str, tuple[int, int]]:
    """x offsets inside a cell for the L/R markers: just inside the brain's left and right
    extent at its top rows, so markers of neighbouring views never touch."""
    out = {}
    for view in LR_MARKERS:
        pmap = surface.pixel_maps[view]
        cols = np.flatnonzero((pmap >= 0).any(axis=0))
        size = cell // SCALE
        left_pad = (size - pmap.shape[1]) // 2
        out[view] = (int((left_pad + cols[0]) * SCALE), int((left_pad + cols[-1] + 1) * SCALE) - 12)
    return out


def _colour_bar(draw: ImageDraw.ImageDraw, img: Image.Image, x: int, top: int, height: int,
                z_min: float, z_max: float) -> None:
    height = max(height, 120)
    bar_h = height - 40
    ramp = LUT[np.linspace(len(LUT) - 1, 0, bar_h).round().astype(int)]
    bar = np.repeat(ramp[:, None, :], 24, axis=1)
    img.paste(Image.fromarray(bar), (x, top + 30))
    draw.text((x, top), "Z", fill=(255, 255, 255), font=font(20, bold=True))
    n_ticks = int(round(z_max - z_min)) + 1 if (z_max - z_min) <= 10 else 6
    for t in np.linspace(z_max, z_min, n_ticks):
        y = top + 30 + (z_max - t) / (z_max - z_min) * (bar_h - 1)
        draw.line([(x + 24, y), (x + 30, y)], fill=(255, 255, 255))
        draw.text((x + 34, y - 9), f"{t:g}", fill=(255, 255, 255), font=font(16))
