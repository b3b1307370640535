"""Which series already have their result: same input files, settings, database and model.

The pipeline writes these hashes into result.json (:class:`processor.result.Hashes`); the
client computes the same ones here without loading the pipeline. Only ``ok`` and ``rejected``
results count as done: a ``failed`` one (our fault or the machine's, ``worker_crashed``
included) is tried again.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from atlas.normaldb import NormalDatabase
from models.inference import verify_model
from processor.batch.discover import SeriesTask
from processor.config import Section, processing_sha256
from processor.pipeline import one_database_only, resolve_model, resolve_normal_database
from processor.result import inputs_sha256
from spectssp.errors import ErrorCode, SpectSSPError

DONE = ("ok", "rejected")


@dataclass(frozen=True)
class RunKey:
    """The hashes every result of this run shares (result.json ``hashes`` but ``inputs``)."""

    config: str
    normal_database: str
    model: str | None


def run_key(cfg: Section) -> RunKey:
    """This run's hashes; a missing database or broken model stops the run here, before any task,
    and so does a configuration with several databases (the hashes name one)."""
    one_database_only(cfg, "batch")
    ndb_path = resolve_normal_database(cfg)
    try:
        ndb = NormalDatabase.load(ndb_path, volumes=False)
    except ValueError as exc:
        raise SpectSSPError(ErrorCode.NORMAL_DB_MISMATCH, str(exc)) from None
    model_path = resolve_model(cfg)
    model_sha = None
    if model_path is not None:
        try:
            model_sha = verify_model(model_path)[1]
        except (OSError, ValueError) as exc:
            raise SpectSSPError(ErrorCode.MODEL_ERROR, f"cannot load the model at {str(model_path)!r}: {exc}") from None
    return RunKey(processing_sha256(cfg), ndb.sha256(), model_sha)


def read_result(out_root: Path, task: SeriesTask) -> dict | None:
    """The series' published result.json, or None (absent, unreadable, not ours)."""
    try:
        return json.loads((out_root / task.name / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_done(result: dict | None, task: SeriesTask, key: RunKey) -> bool:
    """True when ``result`` is this task's, for the same inputs, settings, database and model."""
    if not result or result.get("status") not in DONE or result.get("inputs") != list(task.files):
        return False
    h = result.get("hashes") or {}
    if (h.get("config"), h.get("normal_database"), h.get("model")) != (key.config, key.normal_database, key.model):
        return False
    return h.get("inputs") is not None and h.get("inputs") == inputs_sha256(list(task.files))
