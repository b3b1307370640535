"""Small DICOM series and a fake processing function for fast daemon tests.

The fake runs in real worker processes (imported by name there, as ``tests.processor.daemon
.fakes``), so crashes, kills and retries are the real thing; only the seconds of registration
are left out. What it does is read from the series' SeriesDescription:

- ``ok`` (anything else): writes a result folder like the pipeline, status ok
- ``reject``: result with status rejected (unsupported_modality)
- ``crash``: ``os._exit(7)`` every time; ``crash-once``: the first attempt only
- ``sleep:S``: sleeps S seconds, then ok
- ``raise``: raises RuntimeError (a bug inside the pipeline)

Every call appends ``<series uid> <n files> <pid>`` to ``<output>/../calls.log``.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, NuclearMedicineImageStorage, generate_uid

from atlas.analysis import Indices, RegionStats, Statistics
from processor.result import OutputEntry, Registration, Result, ResultError, Status
from spectssp import errors
from spectssp.fsutil import atomic_write_json, publish_dir, safe_name
from tests.helpers.results import load_result

FACTORY = "tests.processor.daemon.fakes:factory"


def make_series(folder: Path, n: int = 3, *, description: str = "ok", series_uid: str | None = None,
                study_uid: str | None = None, sop_uids: list[str] | None = None, seed: int = 0,
                modality: str = "NM") -> list[Path]:
    """``n`` tiny single-frame NM instances of one series in ``folder`` (deterministic content)."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    study_uid = study_uid or generate_uid()
    paths = []
    for i in range(n):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        sop_class = CTImageStorage if modality == "CT" else NuclearMedicineImageStorage
        ds.file_meta.MediaStorageSOPClassUID = sop_class
        sop = sop_uids[i] if sop_uids else generate_uid()
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = sop
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = sop_class
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.Modality = modality
        ds.PatientName = "Secret^Patient"
        ds.PatientID = "P1"
        ds.AccessionNumber = "ACC1"
        ds.SeriesDescription = description
        ds.InstanceNumber = i + 1
        ds.Rows = ds.Columns = 4
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = (np.arange(16, dtype=np.uint16) + seed + i).tobytes()
        path = folder / f"IM{i:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def factory(cfg: Any) -> Callable[[list[Path], Path], list[dict[str, Any]]]:
    log_path = Path(cfg.paths.output).parent / "calls.log"

    def process(paths: list[Path], out_root: Path) -> list[dict[str, Any]]:
        ds = pydicom.dcmread(paths[0], stop_before_pixels=True)
        uid, what = str(ds.SeriesInstanceUID), str(ds.get("SeriesDescription", "ok"))
        with open(log_path, "a", encoding="utf-8") as fh:
            fh.write(f"{uid} {len(paths)} {os.getpid()}\n")
        marker = log_path.with_name(f"crashed-{safe_name(uid)}")
        if what == "crash" or (what == "crash-once" and not marker.exists()):
            marker.touch()
            os._exit(7)
        if what.startswith("sleep:"):
            time.sleep(float(what.split(":")[1]))
        if what == "raise":
            raise RuntimeError("a bug in the pipeline")
        result = _result(paths, ds, rejected=what == "reject")
        name = safe_name(uid)
        staging = out_root / f".staging-{name}-{os.getpid()}"
        staging.mkdir(parents=True, exist_ok=True)
        if result.status == Status.OK:
            sr = staging / "sr.dcm"
            shutil.copyfile(paths[0], sr)
            result.outputs = [OutputEntry("sr", str(out_root / name / "sr.dcm"), str(ds.SOPClassUID)),
                              OutputEntry("report", str(out_root / name / "report.png"))]
        written = result.as_dict()
        atomic_write_json(staging / "result.json", written)
        publish_dir(staging, out_root / name)
        return [written]

    return process


def _result(paths: list[Path], ds: Dataset, rejected: bool) -> Result:
    """A result like the pipeline's, with made-up statistics (the fake registers nothing)."""
    uid = str(ds.SeriesInstanceUID)
    if rejected:
        return Result(paths, str(ds.StudyInstanceUID), uid, Status.REJECTED,
                      ResultError(errors.UNSUPPORTED_MODALITY, "not a SPECT series."))
    stats = Statistics(("GLB",), {"parietal_L": RegionStats(0.5, 2.0)}, Indices(0.5, 2.0, 1.0, 0.1), "GLB", None)
    return Result(paths, str(ds.StudyInstanceUID), uid, Status.OK,
                  registration=Registration("fake", 1.0, True, 0.5), statistics=stats)


def calls(cfg: Any) -> list[tuple[str, int, int]]:
    """The fake's call log: (series uid, number of files, worker pid); ``cfg`` or the output folder."""
    output = Path(cfg) if isinstance(cfg, (str, Path)) else Path(cfg.paths.output)
    path = output.parent / "calls.log"
    if not path.exists():
        return []
    return [(u, int(n), int(p)) for u, n, p in (line.split() for line in path.read_text().splitlines())]


def result_json(cfg: Any, series_uid: str) -> dict[str, Any]:
    """The series' result.json, validated against the published schema."""
    return load_result(Path(cfg.paths.output) / safe_name(series_uid) / "result.json")
