"""Which stage each running job is in, for the status page and ``spectssp status``.

A worker tells the daemon over its pipe as each stage begins (:func:`workers.report_stage`);
the daemon, which owns the state folder, writes ``state/running/<job id>.json``
(``{"job", "stage", "since"}``) atomically and removes it when the job ends, also when its
worker died. A display aid only: a record that cannot be written or read is logged at debug
level and ignored, never a reason to fail a job, and readers trust it only for a job the
ledger says is running.
"""
from __future__ import annotations

import json
import logging
import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from spectssp.fsutil import atomic_write_json

log = logging.getLogger(__name__)

RUNNING_DIR = "running"
_STAGE = re.compile(r"[a-z][a-z_-]{0,31}")   # what a stage name may be (the pipeline's are short words)


@dataclass(frozen=True)
class RunningStage:
    """The stage a running job is in and since when (wall clock, seconds since the epoch)."""

    stage: str
    since: float


def _path(state: Path, job_id: int) -> Path:
    return Path(state) / RUNNING_DIR / f"{int(job_id)}.json"


class StageRecords:
    """The daemon's side: write, remove and clear the records under ``state/running``."""

    def __init__(self, state: Path) -> None:
        self.dir = Path(state) / RUNNING_DIR

    def record(self, job_id: int, stage: str, now: float) -> None:
        if not _STAGE.fullmatch(stage or ""):
            log.debug("job %s: ignoring stage %r", job_id, stage)
            return
        try:
            atomic_write_json(_path(self.dir.parent, job_id), {"job": int(job_id), "stage": stage, "since": now})
        except (OSError, ValueError):
            log.debug("job %s: cannot record stage %s", job_id, stage, exc_info=True)

    def remove(self, job_id: int) -> None:
        try:
            _path(self.dir.parent, job_id).unlink(missing_ok=True)
        except OSError:
            log.debug("job %s: cannot remove its stage record", job_id, exc_info=True)

    def clear(self) -> None:
        """At start-up: no job runs yet, so every record is stale."""
        shutil.rmtree(self.dir, ignore_errors=True)


def read_stage(state: Path, job_id: int) -> RunningStage | None:
    """The recorded stage of a job, or None when there is none or it is not a valid record."""
    try:
        data = json.loads(_path(state, job_id).read_text(encoding="utf-8"))
        stage, since = data["stage"], float(data["since"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if (data.get("job") != int(job_id) or not isinstance(stage, str) or not _STAGE.fullmatch(stage)
            or not math.isfinite(since)):
        return None
    return RunningStage(stage, since)
