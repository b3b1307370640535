"""Output writers for one series: sheet and composite PNGs, DICOM SC and SR.

Called by the pipeline with a staging folder; file names are fixed or come from sanitised
UIDs, never from input paths.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from processor.config import Section
from processor.fsutil import atomic_write_bytes
from processor.render.sheet import SheetInfo, render_sheet
from processor.result import output_entry


def _png(path: Path, rgb: np.ndarray) -> Path:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", optimize=False)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _date(header) -> str:
    d = str(getattr(header, "StudyDate", "") or "") if header is not None else ""
    return f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 and d.isdigit() and d != "00000000" else ""


def sheets(s, ssp, atlas, cfg: Section) -> dict[str, np.ndarray]:
    """Decrease (and optionally increase) sheets as RGB arrays."""
    header = s.header
    pid = str(getattr(header, "PatientID", "") or "") if header is not None else ""
    extra = f"normal DB: {ssp.references and 'site' or ''}".strip()
    refs = [r for r in cfg.render.references if r in ssp.references]
    out = {}
    info = SheetInfo("3D-SSP  Z-score  Decrease", pid, _date(header), extra="")
    out["decrease"] = render_sheet(atlas.surface, {r: ssp.z_for(r) for r in refs}, info,
                                   cfg.render.z_min, cfg.render.z_max)
    if cfg.render.increase_sheet:
        info = SheetInfo("3D-SSP  Z-score  Increase", pid, _date(header), extra="")
        out["increase"] = render_sheet(atlas.surface, {r: -ssp.z_for(r) for r in refs}, info,
                                       cfg.render.z_min, cfg.render.z_max)
    return out


def write_all(staging: Path, s, ssp, prediction, result: dict[str, Any], atlas, cfg: Section) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    pictures = sheets(s, ssp, atlas, cfg)
    for direction, rgb in pictures.items():
        if cfg.outputs.png_report:
            entries.append(output_entry("report", _png(staging / f"ssp_{direction}.png", rgb)))
    return entries


def write_registration_qc(staging: Path, volume: np.ndarray, atlas) -> Path:
    """Three orthogonal mid-slices of the warped study with the brain outline, for a reader
    to see why registration QC failed."""
    from scipy import ndimage
    v = volume / max(float(np.percentile(volume[atlas.brain], 99)), 1e-6) if atlas.brain.any() else volume
    edge = atlas.brain ^ ndimage.binary_erosion(atlas.brain)
    tiles = []
    ci, cj, ck = (np.array(atlas.shape) // 2)
    for sl in (np.s_[:, :, ck], np.s_[:, cj, :], np.s_[ci, :, :]):
        g = (np.clip(v[sl], 0, 1) * 255).astype(np.uint8)
        rgb = np.repeat(g[..., None], 3, axis=-1)
        rgb[edge[sl]] = (255, 0, 0)
        tiles.append(np.rot90(rgb))
    h = max(t.shape[0] for t in tiles)
    tiles = [np.pad(t, ((0, h - t.shape[0]), (0, 0), (0, 0))) for t in tiles]
    return _png(staging / "registration_qc.png", np.concatenate(tiles, axis=1))
