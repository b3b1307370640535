"""result.json (contract ``spectssp.result/1``): built here and nowhere else."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from spectssp import RESEARCH_BANNER, SOFTWARE_NAME, __version__

SCHEMA = "spectssp.result/1"
TIMING_KEYS = ("read", "register", "ssp", "classify", "write", "total")
DATA_NOTE = ("RESEARCH USE ONLY - NOT FOR DIAGNOSIS. The bundled normal database and model are built "
             "from digital phantoms, for demonstration and tests only.")


def new_result(inputs: list[Path], study_uid: str | None, series_uid: str | None) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "status": "failed",
        "error": None,
        "inputs": [str(p) for p in inputs],
        "study_instance_uid": study_uid,
        "series_instance_uid": series_uid,
        "classification": None,
        "registration": None,
        "resolution": None,
        "reference_regions": [],
        "regions": {},
        "indices": {},
        "outputs": [],
        "warnings": [],
        "timings_s": {k: 0.0 for k in TIMING_KEYS},
        "software": {"name": SOFTWARE_NAME, "version": __version__, "notice": RESEARCH_BANNER},
        "normal_database": None,
        "note": DATA_NOTE,
    }


def output_entry(kind: str, path: Path, sop_class_uid: str | None = None) -> dict[str, Any]:
    return {"kind": kind, "path": str(path), "sop_class_uid": sop_class_uid}
