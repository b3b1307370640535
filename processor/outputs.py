"""Output writers for one series: sheet PNGs, DICOM Secondary Capture (sheet, CNN views) and
Comprehensive SR, in new series of the source study.

Called by the pipeline with a staging folder; file names are fixed or come from sanitised
UIDs, never from input paths. Series UIDs derive from the source series, the kind, the normal
database's hash and the model card's hash: a study processed again with the same database and
model lands in the same result series in PACS, one processed with another database or model in
a new series, so a PACS never mixes two versions in one series.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.uid import generate_uid

from spectssp import __version__
from processor.config import Section
from spectssp.clock import PartClock
from spectssp.fsutil import atomic_write_bytes
from atlas.render.composite import composite
from processor.render.panel import render_panel
from processor.render.sheet import SheetInfo, render_sheet
from processor.result import OutputEntry, Result


# zlib's run-length strategy: our pictures are flat colour on black, and it encodes a sheet
# 2.5 x faster than PIL's default (level 6) for files about 8 % larger (measured; lossless).
PNG_OPTIONS = {"compress_level": 6, "compress_type": 3}   # 3: Z_RLE


def _png(path: Path, rgb: np.ndarray) -> Path:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", **PNG_OPTIONS)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _date(header) -> str:
    d = str(getattr(header, "StudyDate", "") or "") if header is not None else ""
    return f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 and d.isdigit() and d != "00000000" else ""


def _series_uid(source_series: str | None, kind: str, ndb_sha: str | None = None,
                model_sha: str | None = None) -> str:
    return generate_uid(entropy_srcs=["spectssp", __version__, source_series or "", kind,
                                      f"normal database {ndb_sha or ''}", f"model {model_sha or ''}"])


def sheets(s, ssp, atlas, cfg: Section, ndb_label: str) -> dict[str, np.ndarray]:
    """Decrease (and optionally increase) sheets as RGB arrays."""
    pid = str(getattr(s.header, "PatientID", "") or "") if s.header is not None else ""
    refs = [r for r in cfg.render.references if r in ssp.references]
    out = {"decrease": render_sheet(atlas.surface, {r: ssp.z_for(r) for r in refs},
                                    SheetInfo("3D-SSP  Z-score  Decrease", pid, _date(s.header), ndb_label),
                                    cfg.render.z_min, cfg.render.z_max)}
    if cfg.render.increase_sheet:
        out["increase"] = render_sheet(atlas.surface, {r: -ssp.z_for(r) for r in refs},
                                       SheetInfo("3D-SSP  Z-score  Increase", pid, _date(s.header), ndb_label),
                                       cfg.render.z_min, cfg.render.z_max)
    return out


ATYPICAL_WARNING = "ATYPICAL FOR THIS DATABASE: unlike the normals and the simulated diseases - not classified"


def cnn_panel(ssp, prediction, atlas, cfg: Section) -> np.ndarray:
    ref = cfg.classifier.reference
    if prediction is None:
        views = composite(atlas.surface, ssp.z_for(ref), cfg.render.z_min, cfg.render.z_max, 454)
        return render_panel([(f"Z map ({ref}, Z {cfg.render.z_min:g}-{cfg.render.z_max:g})", views)],
                            "CNN views: statistics only", ["statistics only: no model configured"])
    res = prediction.classification(cfg.classifier.indeterminate_below)
    probs = "   ".join(f"{k} {v:.2f}" for k, v in res.probabilities.items())
    origin = ("model trained on digital phantoms (demonstration only)" if prediction.phantom_trained
              else "site model")
    return render_panel([(f"CNN input: Z map ({prediction.reference})", prediction.composite),
                         (f"{prediction.heat_method} for {res.top}", prediction.gradcam_rgb)],
                        f"CNN: {res.label}", [f"probabilities: {probs}", f"model {res.model}", origin],
                        atypical_warning(res.atypical), prediction.layout)


def atypical_warning(atypical) -> str | None:
    """The panel's warning line for a study the atypicality check flagged; None otherwise."""
    if atypical is None or not atypical.flagged:
        return None
    return (f"{ATYPICAL_WARNING} (distance {atypical.distance:.1f} > {atypical.threshold:.1f})")


def write_all(staging: Path, s, ssp, prediction, result: Result, atlas, cfg: Section,
              ndb_label: str = "", model_sha: str | None = None, clock: PartClock | None = None,
              ndb_sha: str | None = None) -> list[OutputEntry]:
    """Every output of one series in ``staging``; their warnings go to ``result``, the SR
    reports ``result`` as it stands (statistics and classification done). Each picture is
    rendered once: its PNG copy and its Secondary Capture get the same array."""
    from processor.dicom_out import write_secondary_capture, write_structured_report  # deferred: highdicom (~1 s), off the start-up path
    clock = clock or PartClock()
    entries: list[OutputEntry] = []
    o = cfg.outputs
    pictures = sheets(s, ssp, atlas, cfg, ndb_label)
    clock.lap("render sheets")
    panel = cnn_panel(ssp, prediction, atlas, cfg)
    clock.lap("render panel")
    if o.png_report:
        for direction, rgb in pictures.items():
            entries.append(OutputEntry("report", str(_png(staging / f"ssp_{direction}.png", rgb))))
        entries.append(OutputEntry("report", str(_png(staging / "cnn_views.png", panel))))
        clock.lap("PNG copies")
    if s.header is None:
        return entries
    missing = [k for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID") if not getattr(s.header, k, None)]
    if missing:
        result.warnings.append(f"no DICOM results written: the source lacks {', '.join(missing)}, so they "
                                  "could not be placed in its study (PNG results only)")
        return entries
    dicom_dir = staging / "dicom"
    records = []
    sheet_series = _series_uid(s.series_uid, "ssp-sheet", ndb_sha, model_sha)
    for n, (direction, rgb) in enumerate(pictures.items(), start=1):
        records.append(write_secondary_capture(
            s.header, rgb, kind="ssp-sheet", series_uid=sheet_series, series_number=o.series_number_sheet,
            instance_number=n, description=f"3D-SSP Z-score sheet ({direction})", out_dir=dicom_dir,
            software_version=__version__))
    records.append(write_secondary_capture(
        s.header, panel, kind="gradcam", series_uid=_series_uid(s.series_uid, "gradcam", ndb_sha, model_sha),
        series_number=o.series_number_gradcam, instance_number=1,
        description=f"CNN views with {prediction.heat_method}" if prediction is not None else "CNN views (statistics only)",
        out_dir=dicom_dir, software_version=__version__))
    clock.lap("Secondary Captures")
    records.append(write_structured_report(
        s.header, result.as_dict(), series_uid=_series_uid(s.series_uid, "sr", ndb_sha, model_sha),
        series_number=o.series_number_sr, out_dir=dicom_dir, software_version=__version__, model_card_sha256=model_sha,
        normal_database_sha256=ndb_sha))
    clock.lap("Structured Report")
    for rec in records:
        entries.append(rec.as_result_output())
        for w in rec.warnings:
            result.warn_once(w)
    return entries


def write_registration_qc(staging: Path, volume: np.ndarray, atlas) -> Path:
    """Three orthogonal mid-slices of the warped study with the template brain outline, so a
    reader sees why registration QC failed."""
    from scipy import ndimage  # deferred: only for the registration QC picture of a failed study
    v = volume / max(float(np.percentile(volume[atlas.brain], 99)), 1e-6)
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
