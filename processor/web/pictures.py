"""The pictures of a result folder as the page serves them: PNG bytes, thumbnails, and the
patient ID line of a 3D-SSP sheet blacked out unless the site shows identifiers.

The sheet (processor/render/sheet.py) writes "ID: <PatientID>  Date: <StudyDate>" in its header
at y = 52 from the left margin; :data:`ID_BOX` covers that line (a test renders two sheets that
differ only in the ID and checks that every differing pixel lies in the box).
"""
from __future__ import annotations

import io
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image

ID_BOX = (0, 44, 0.6, 84)        # x0, y0, x1 as a fraction of the width, y1 (pixels)
THUMB_WIDTH = 480
_CACHE_SIZE = 64


class Pictures:
    """Encoded pictures, cached by (file, modification time, variant); thread-safe."""

    def __init__(self, hide_identifiers: bool) -> None:
        self.hide_identifiers = hide_identifiers
        self._cache: OrderedDict[tuple, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def png(self, path: Path, *, sheet: bool, thumbnail: bool = False) -> bytes:
        """``path`` (PNG, or a DICOM Secondary Capture) as PNG bytes, ready to send."""
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size, sheet, thumbnail)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        if path.suffix.lower() == ".png" and not thumbnail and not (sheet and self.hide_identifiers):
            data = path.read_bytes()                      # as written: nothing to change
        else:
            img = _load(path)
            if sheet and self.hide_identifiers:
                img = mask_identifiers(img)
            if thumbnail and img.width > THUMB_WIDTH:
                img = img.resize((THUMB_WIDTH, round(img.height * THUMB_WIDTH / img.width)), Image.LANCZOS)
            buf = io.BytesIO()
            img.save(buf, format="PNG", compress_level=6)
            data = buf.getvalue()
        with self._lock:
            self._cache[key] = data
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return data


def mask_identifiers(img: Image.Image) -> Image.Image:
    """The sheet with its patient ID / study date line painted black."""
    out = img.convert("RGB").copy()
    x0, y0, x1, y1 = ID_BOX
    out.paste((0, 0, 0), (x0, y0, int(out.width * x1), y1))
    return out


def _load(path: Path) -> Image.Image:
    if path.suffix.lower() == ".png":
        with Image.open(path) as im:
            return im.convert("RGB")
    ds = pydicom.dcmread(path)                         # a Secondary Capture we wrote (RGB, 8 bit)
    return Image.fromarray(np.asarray(ds.pixel_array, dtype=np.uint8)).convert("RGB")
