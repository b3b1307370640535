"""What the status page shows, read from the daemon's state: the ledger and the result folders.

Read-only: the ledger is opened ``mode=ro`` per request (SQLite, safe while the daemon writes)
and result.json files are only read. A study is named by an opaque key, a hash of its job id
and content hash, so no UID, name or patient ID ever appears in a URL. Files are served only
from the list a study's own result.json gives (and only inside ``paths.output``): nothing in
a request is ever used as a path.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from processor.config import Section
from processor.daemon.ledger import ACTIVE, DONE, FAILED, REJECTED, RUNNING, Job, Ledger
from processor.daemon.stages import RunningStage, read_stage
from processor.daemon.status import summary
from spectssp.fsutil import safe_name

log = logging.getLogger(__name__)

# picture name on the page -> the PNG copy's file name in a result folder (processor/outputs.py)
PNG_NAMES = {"decrease": "ssp_decrease.png", "increase": "ssp_increase.png", "panel": "cnn_views.png"}
PICTURES = ("decrease", "increase", "panel", "qc")
DICOM_LABELS = {"ssp-sheet": "3D-SSP sheet (DICOM Secondary Capture)", "gradcam": "CNN views (DICOM Secondary Capture)",
                "sr": "structured report (DICOM SR)"}
RECENT = 40            # studies listed on the overview
# a running job's stage (processor.pipeline.STAGES) as the page says it; another name is shown as it is
STAGE_LABELS = {"read": "reading the files", "register": "registering", "ssp": "3D-SSP statistics",
                "classify": "classifying", "write": "writing outputs"}


@dataclass(frozen=True)
class Stage:
    """What a running job is doing now and for how long (seconds)."""

    name: str
    label: str
    for_s: float

    @classmethod
    def of(cls, rec: RunningStage | None, now: float) -> "Stage | None":
        if rec is None:
            return None
        return cls(rec.stage, STAGE_LABELS.get(rec.stage, rec.stage), max(0.0, now - rec.since))


def study_key(job: Job) -> str:
    """The opaque name of a job on the page: not reversible to a UID or a patient."""
    return hashlib.sha256(f"spectssp-web\0{job.id}\0{job.content_hash}".encode()).hexdigest()[:20]


@dataclass
class Study:
    """One job and, when its result folder is its own, the result it wrote."""

    key: str
    job: Job
    result: dict[str, Any] | None = None
    superseded: bool = False                             # a newer version of the series replaced its results
    stage: Stage | None = None                           # a running job's stage, when the daemon recorded one
    pictures: dict[str, Path] = field(default_factory=dict)   # PICTURES name -> PNG, or DICOM SC to decode
    downloads: list[tuple[str, Path]] = field(default_factory=list)  # (label, file) in the result folder

    @property
    def label(self) -> str | None:
        c = (self.result or {}).get("classification") or {}
        return c.get("label")

    @property
    def probabilities(self) -> dict[str, float]:
        c = (self.result or {}).get("classification") or {}
        return c.get("probabilities") or {}

    @property
    def outcome(self) -> str:
        """done, rejected, failed, ... as the ledger says; "done" with warnings stays "done"."""
        return str(self.job.state)


class State:
    """Read access to one daemon's state folder and result folders."""

    def __init__(self, cfg: Section, clock: Any = time.time) -> None:
        self.cfg = cfg
        self.state_dir = Path(cfg.paths.state)
        self.output = Path(cfg.paths.output).resolve()
        self.clock = clock

    # -- the ledger -----------------------------------------------------------------------
    def _jobs(self) -> list[Job]:
        if not (self.state_dir / "ledger.sqlite").is_file():
            return []
        ledger = Ledger(self.state_dir, readonly=True)
        try:
            return ledger.jobs()
        finally:
            ledger.close()

    def overview(self) -> dict[str, Any]:
        """Everything the overview page shows, in one read of the ledger."""
        now = self.clock()
        s = summary(self.cfg, now=now, n_errors=20)
        jobs = [j for j in self._jobs() if j.duplicate_of is None]
        latest = _latest_versions(jobs)
        midnight = time.mktime(time.localtime(now)[:3] + (0, 0, 0, 0, 0, -1))
        ended = sorted((j for j in jobs if j.state in (DONE, REJECTED, FAILED)),
                       key=lambda j: (j.finished_at or 0, j.id), reverse=True)
        return {
            "summary": s,
            "now": now,
            "waiting": [(study_key(j), j, now - j.created) for j in jobs if j.state in ACTIVE and j.state != RUNNING],
            "running": [(study_key(j), j, now - (j.started_at or now), self._stage(j, now))
                        for j in jobs if j.state == RUNNING],
            "done_today": sum(1 for j in jobs if j.state == DONE and (j.finished_at or 0) >= midnight),
            "problems": [self._study(j, latest) for j in ended if j.state in (REJECTED, FAILED)][:20],
            "recent": [self._study(j, latest) for j in ended[:RECENT]],
            "quarantine": _count_files(self.state_dir / "quarantine"),
            "failed_files": _count_files(self.state_dir / "failed"),
        }

    def study(self, key: str) -> Study | None:
        """The study with this key, or None (also for anything that is not a key)."""
        if not (len(key) == 20 and all(c in "0123456789abcdef" for c in key)):
            return None
        jobs = [j for j in self._jobs() if j.duplicate_of is None]
        for job in jobs:
            if study_key(job) == key:
                return self._study(job, _latest_versions(jobs))
        return None

    def history(self, job_id: int) -> list[tuple[str | None, str, float, str | None]]:
        """The job's transitions (the ledger's audit trail)."""
        ledger = Ledger(self.state_dir, readonly=True)
        try:
            return ledger.history(job_id)
        finally:
            ledger.close()

    def _stage(self, job: Job, now: float) -> Stage | None:
        """The stage the daemon recorded for a running job (state/running), else None."""
        return Stage.of(read_stage(self.state_dir, job.id), now) if job.state == RUNNING else None

    # -- result folders -------------------------------------------------------------------
    def _study(self, job: Job, latest: dict[str, int]) -> Study:
        st = Study(study_key(job), job, stage=self._stage(job, self.clock()))
        if job.series_uid and latest.get(job.series_uid, job.id) != job.id:
            st.superseded = True
            return st
        if job.state not in (DONE, REJECTED, FAILED):   # its folder, if any, holds an earlier version's result
            return st
        folder = self._folder(job)
        if folder is None:
            return st
        try:
            st.result = json.loads((folder / "result.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return st
        if not isinstance(st.result, dict):
            st.result = None
            return st
        st.downloads.append(("result.json", folder / "result.json"))
        sheets: list[Path] = []
        for o in st.result.get("outputs") or []:
            p = self._inside(o.get("path"))
            if p is None:
                continue
            if o.get("sop_class_uid"):
                label = DICOM_LABELS.get(o.get("kind"), "DICOM object")
                if o.get("kind") == "ssp-sheet" and len(sheets) < 2:     # written decrease, then increase
                    label = f"3D-SSP sheet, {('decrease', 'increase')[len(sheets)]} (DICOM Secondary Capture)"
                st.downloads.append((label, p))
            if o.get("kind") == "report":
                for name, png in PNG_NAMES.items():
                    if p.name == png:
                        st.pictures[name] = p
            elif o.get("kind") == "ssp-sheet":
                sheets.append(p)
            elif o.get("kind") == "gradcam":
                st.pictures.setdefault("panel_dicom", p)
        for name, p in zip(("decrease", "increase"), sheets):   # no PNG copies: the Secondary Captures
            st.pictures.setdefault(name + "_dicom", p)
        qc = self._inside((st.result.get("registration") or {}).get("qc_image"))
        if qc is not None:
            st.pictures["qc"] = qc
        return st

    def _folder(self, job: Job) -> Path | None:
        """The job's result folder: named by its series UID, else found from its outputs."""
        if job.series_uid:
            p = self.output / safe_name(job.series_uid)
            return p if p.is_dir() else None
        for o in job.outputs or []:
            p = self._inside(o.get("path"))
            while p is not None and p.parent != self.output and p != p.parent:
                p = p.parent
            if p is not None and p.parent == self.output:
                return p
        return None

    def _inside(self, path: Any) -> Path | None:
        """``path`` (from result.json) when it is an existing file under paths.output, else None."""
        if not isinstance(path, str) or not path:
            return None
        p = Path(path).resolve()
        return p if p.is_relative_to(self.output) and p.is_file() else None

    # -- monitoring -----------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Daemon alive, queue depth, oldest waiting age and the last error, for /healthz."""
        s = summary(self.cfg, n_errors=1)
        counts = s["counts"]
        oldest = s["oldest_waiting"]
        last = s["last_errors"][0] if s["last_errors"] else None
        return {
            "daemon_alive": bool(s["daemon_pid"]),
            "queue_depth": sum(counts.get(k, 0) for k in ACTIVE),
            "oldest_waiting_age_s": oldest["age_s"] if oldest else None,
            "last_error": {"code": last["code"], "message": last["message"], "at": last["at"],
                           "state": str(last["state"])} if last else None,
            "counts": counts,
            "incoming_files": s["incoming_files"],
            "delivery": {name: {k: d[k] for k in ("pending", "delivered", "failed")}
                         for name, d in s["delivery"].items()},
        }


def _latest_versions(jobs: list[Job]) -> dict[str, int]:
    """Series UID -> id of its newest version (whose results are in the series' folder)."""
    out: dict[str, tuple[int, int]] = {}
    for j in jobs:
        if j.series_uid and (j.version, j.id) > out.get(j.series_uid, (0, 0)):
            out[j.series_uid] = (j.version, j.id)
    return {k: v[1] for k, v in out.items()}


def _count_files(root: Path) -> int:
    """Files under ``root`` other than the reason.json beside each job's inputs."""
    if not root.is_dir():
        return 0
    return sum(1 for p in root.rglob("*") if p.is_file() and p.name != "reason.json")
