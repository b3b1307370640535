"""SC 2: the four CNN views as the network saw them (Z map) beside the Grad-CAM heat on the
grey template surface, with the label and the probabilities, burned in with the research-use
banner. Shown side by side so the heat is never confused with the Z rainbow."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from spectssp import RESEARCH_BANNER, SOFTWARE_NAME, __version__
from atlas.render.composite import view_boxes
from processor.render.text import font

BLOCK = 560  # each 2 x 2 block of views is shown at this size


def render_panel(blocks: list[tuple[str, np.ndarray]], title: str, lines: list[str],
                 warning: str | None = None) -> np.ndarray:
    """(H, W, 3) uint8 panel; ``blocks`` are (caption, composite-layout image) shown side by side.
    ``warning`` (e.g. the study is atypical for the model's database) is drawn in bold red under
    the title, before the other lines, so a reader cannot miss it."""
    header_h, caption_h, footer_h, pad = 140, 34, 56, 16
    width = pad + len(blocks) * (BLOCK + pad)
    img = Image.new("RGB", (width, header_h + caption_h + BLOCK + footer_h), (0, 0, 0))
    d = ImageDraw.Draw(img)
    d.text((pad, 10), title, fill=(255, 255, 255), font=font(28, bold=True))
    rows: list[tuple[str, tuple[int, int, int], bool]] = [(warning, (255, 60, 60), True)] if warning else []
    rows += [(line, (210, 210, 210), False) for line in lines]
    for i, (line, colour, bold) in enumerate(rows[:4]):
        d.text((pad, 50 + 22 * i), line, fill=colour, font=font(17, bold=bold))
    top = header_h + caption_h
    for b, (caption, rgb) in enumerate(blocks):
        left = pad + b * (BLOCK + pad)
        d.text((left, header_h + 4), caption, fill=(255, 255, 255), font=font(18, bold=True))
        img.paste(Image.fromarray(rgb).resize((BLOCK, BLOCK), Image.BILINEAR), (left, top))
        for view, (vt, vl, _, _) in view_boxes(BLOCK).items():
            d.text((left + vl + 6, top + vt + 4), view, fill=(255, 255, 255), font=font(15, bold=True))
    d.text((pad, top + BLOCK + 16), f"{RESEARCH_BANNER}   {SOFTWARE_NAME} {__version__}",
           fill=(255, 210, 0), font=font(17, bold=True))
    return np.asarray(img)
