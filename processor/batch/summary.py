"""summary.csv: one row per series, appended as results arrive (an interrupted run keeps one).

Columns are fixed before the first row: identity and status, the classification, the indices,
each region's mean Z and extent (the atlas's region table), registration QC, timings, hashes
and the result folder.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, TextIO

from atlas import voi
from models import CLASSES

INDICES = ("severity", "extent", "ratio", "ciscore")
TIMINGS = ("read", "register", "ssp", "classify", "write", "total")
HASHES = ("inputs", "config", "normal_database", "model")


def columns() -> list[str]:
    regions = [rs.name for rs in voi.REGION_TABLE]
    return (["series_instance_uid", "study_instance_uid", "status", "error_code", "error_message", "label",
             *[f"p_{c}" for c in CLASSES], *INDICES,
             *[f"{r}_{part}" for r in regions for part in ("mean_z", "extent_pct")],
             "qc", "qc_passed", *[f"t_{t}_s" for t in TIMINGS], *[f"sha256_{h}" for h in HASHES],
             "n_inputs", "result"])


def row(result: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A result.json as one summary row (absent parts stay empty)."""
    error = result.get("error") or {}
    c = result.get("classification") or {}
    reg = result.get("registration") or {}
    out: dict[str, Any] = {
        "series_instance_uid": result.get("series_instance_uid"), "study_instance_uid": result.get("study_instance_uid"),
        "status": result.get("status"), "error_code": error.get("code"), "error_message": error.get("message"),
        "label": c.get("label"), "qc": reg.get("qc"), "qc_passed": reg.get("passed"),
        "n_inputs": len(result.get("inputs", [])), "result": str(folder)}
    out.update({f"p_{k}": v for k, v in (c.get("probabilities") or {}).items()})
    out.update({k: v for k, v in (result.get("indices") or {}).items() if k in INDICES})
    for name, stats in (result.get("regions") or {}).items():
        out[f"{name}_mean_z"], out[f"{name}_extent_pct"] = stats.get("mean_z"), stats.get("extent_pct")
    out.update({f"t_{k}_s": v for k, v in (result.get("timings_s") or {}).items() if k in TIMINGS})
    out.update({f"sha256_{k}": v for k, v in (result.get("hashes") or {}).items() if k in HASHES})
    return out


class Summary:
    """``summary.csv`` in the output folder, flushed after every row."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: TextIO = open(path, "w", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._fh, columns(), extrasaction="ignore")
        self._writer.writeheader()
        self._fh.flush()
        self.rows = 0

    def add(self, result: dict[str, Any], folder: Path) -> None:
        self._writer.writerow(row(result, folder))
        self._fh.flush()
        self.rows += 1

    def close(self) -> None:
        self._fh.close()
