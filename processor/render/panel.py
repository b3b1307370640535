"""SC 2: the four CNN views (with the Grad-CAM heat when a model ran), the label and the
probabilities, burned in with the research-use banner."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from processor import RESEARCH_BANNER, SOFTWARE_NAME, __version__
from processor.render.composite import view_boxes
from processor.render.text import font

VIEW_SIZE = 720  # the 2 x 2 views are shown at this size


def render_panel(views_rgb: np.ndarray, title: str, lines: list[str]) -> np.ndarray:
    """(H, W, 3) uint8 panel: ``views_rgb`` is a composite-layout image (any square size)."""
    header_h, footer_h, pad = 150, 60, 16
    views = Image.fromarray(views_rgb).resize((VIEW_SIZE, VIEW_SIZE), Image.BILINEAR)
    img = Image.new("RGB", (VIEW_SIZE + 2 * pad, header_h + VIEW_SIZE + footer_h), (0, 0, 0))
    img.paste(views, (pad, header_h))
    d = ImageDraw.Draw(img)
    d.text((pad, 10), title, fill=(255, 255, 255), font=font(28, bold=True))
    for i, line in enumerate(lines[:4]):
        d.text((pad, 50 + 24 * i), line, fill=(210, 210, 210), font=font(18))
    for view, (top, left, _, _) in view_boxes(VIEW_SIZE).items():
        d.text((pad + left + 6, header_h + top + 4), view, fill=(255, 255, 255), font=font(16, bold=True))
    d.text((pad, header_h + VIEW_SIZE + 18), f"{RESEARCH_BANNER}   {SOFTWARE_NAME} {__version__}",
           fill=(255, 210, 0), font=font(17, bold=True))
    return np.asarray(img)
