"""Fonts for burned-in text: DejaVu Sans as shipped inside matplotlib (no system fonts needed)."""
from __future__ import annotations

import functools
from pathlib import Path

from PIL import ImageFont


@functools.lru_cache(maxsize=16)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    import matplotlib
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
    return ImageFont.truetype(str(path), size)
