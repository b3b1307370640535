"""SC 2: the CNN views as the network saw them (Z map) beside the Grad-CAM heat on the
grey template surface, with the label and the probabilities, burned in with the research-use
banner. Shown side by side so the heat is never confused with the Z rainbow."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from spectssp import RESEARCH_BANNER, SOFTWARE_NAME, __version__
from atlas.render.composite import PAPER_LAYOUT, CompositeLayout
from processor.render.text import font

BLOCK = 560  # each block of views is shown this high (a 2 x 2 block square, a 2 x 3 one 1.5x as wide)


def render_panel(blocks: list[tuple[str, np.ndarray]], title: str, lines: list[str],
                 warning: str | None = None, layout: CompositeLayout = PAPER_LAYOUT) -> np.ndarray:
    """(H, W, 3) uint8 panel; ``blocks`` are (caption, image in ``layout``) shown side by side,
    each view named at its place. ``warning`` (e.g. the study is atypical for the model's
    database) is drawn in bold red under the title, before the other lines, so a reader cannot
    miss it."""
    header_h, caption_h, footer_h, pad = 140, 34, 56, 16
    block_w = layout.shape(BLOCK)[1]
    width = pad + len(blocks) * (block_w + pad)
    img = Image.new("RGB", (width, header_h + caption_h + BLOCK + footer_h), (0, 0, 0))
    d = ImageDraw.Draw(img)
    d.text((pad, 10), title, fill=(255, 255, 255), font=font(28, bold=True))
    rows: list[tuple[str, tuple[int, int, int], bool]] = [(warning, (255, 60, 60), True)] if warning else []
    rows += [(line, (210, 210, 210), False) for line in lines]
    for i, (line, colour, bold) in enumerate(rows[:4]):
        d.text((pad, 50 + 22 * i), line, fill=colour, font=font(17, bold=bold))
    top = header_h + caption_h
    for b, (caption, rgb) in enumerate(blocks):
        left = pad + b * (block_w + pad)
        d.text((left, header_h + 4), caption, fill=(255, 255, 255), font=font(18, bold=True))
        img.paste(Image.fromarray(rgb).resize((block_w, BLOCK), Image.BILINEAR), (left, top))
        for view, (vt, vl, _, _) in layout.view_boxes(BLOCK).items():
            d.text((left + vl + 6, top + vt + 4), view, fill=(255, 255, 255), font=font(15, bold=True))
    d.text((pad, top + BLOCK + 16), f"{RESEARCH_BANNER}   {SOFTWARE_NAME} {__version__}",
           fill=(255, 210, 0), font=font(17, bold=True))
    return np.asarray(img)
