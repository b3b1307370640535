"""Where a job's input files live, and every move between places done by rename.

``state/jobs/<id>/`` holds the inputs of an active job (moved out of the watch folder, so
new arrivals never mix with it). When the job ends the whole folder is renamed, atomically:

- done -> ``state/archive/<id>/`` (or deleted, ``daemon.archive_inputs: delete``)
- rejected -> ``state/quarantine/<id>/`` with ``reason.json``
- failed -> ``state/failed/<id>/`` with ``reason.json`` (drop the series again to retry)
- duplicate -> ``state/duplicates/<id>/`` (or deleted with ``delete``)

Each step is idempotent, so a restart after kill -9 simply repeats the step it was in.
File names come from sanitised SOP Instance UIDs, never from input paths.
"""
from __future__ import annotations

import errno
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from processor.daemon.ledger import DONE, DUPLICATE, FAILED, REJECTED, FileEntry, Job
from spectssp.fsutil import atomic_write_json, fsync_dir, safe_name

log = logging.getLogger(__name__)

PLACES = {DONE: "archive", REJECTED: "quarantine", FAILED: "failed", DUPLICATE: "duplicates"}
REASON_FILE = "reason.json"


def entry_name(seq: int, sop_uid: str | None) -> str:
    """Name of an input inside the job folder: sequence number and sanitised SOP UID."""
    return f"{seq:05d}_{safe_name(sop_uid, str(seq)) if sop_uid else 'unidentified'}.dcm"


class JobFiles:
    """Paths and moves under ``state``; ``incoming`` is only ever read from or emptied."""

    def __init__(self, state: Path, incoming: Path, archive_inputs: str = "archive") -> None:
        self.state, self.incoming, self.archive_inputs = Path(state), Path(incoming), archive_inputs
        self.jobs_dir = self.state / "jobs"
        for d in ["jobs", *PLACES.values()]:
            (self.state / d).mkdir(parents=True, exist_ok=True)

    def job_dir(self, job_id: int) -> Path:
        return self.jobs_dir / str(job_id)

    def inputs(self, job_id: int, entries: list[FileEntry]) -> list[Path]:
        return [self.job_dir(job_id) / e.name for e in entries]

    def location(self, job: Job) -> Path | None:
        """Where a job's inputs are now (active folder or final place), if anywhere."""
        active = self.job_dir(job.id)
        if active.is_dir():
            return active
        if job.inputs_location and job.inputs_location != "deleted" and Path(job.inputs_location).is_dir():
            return Path(job.inputs_location)
        return None

    def gather(self, job_id: int, entries: list[FileEntry]) -> list[FileEntry]:
        """Move (or, for files carried over from an earlier version, link) the inputs into the
        job folder. Returns the entries that are there; a source that vanished before it could
        be moved is logged and left out."""
        folder = self.job_dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        present = []
        for e in entries:
            target = folder / e.name
            src = Path(e.source)
            if not target.exists():
                try:
                    if _inside(src, self.incoming):
                        _move(src, target)
                    else:
                        _link_or_copy(src, target)
                except FileNotFoundError:
                    log.warning("job %d: input %s vanished before it could be taken in", job_id, e.name)
                    continue
            present.append(e)
        fsync_dir(folder)
        return present

    def dispose(self, job: Job, reason: dict[str, Any] | None = None) -> str | None:
        """Move the job folder to its final place by state; returns the new location (or "deleted")."""
        folder = self.job_dir(job.id)
        if not folder.is_dir():
            return job.inputs_location
        if reason is not None:
            atomic_write_json(folder / REASON_FILE, reason)
        if job.state in (DONE, DUPLICATE) and self.archive_inputs == "delete":
            trash = self.jobs_dir / f".delete-{job.id}"
            os.replace(folder, trash)
            shutil.rmtree(trash, ignore_errors=True)
            return "deleted"
        target = self.state / PLACES[job.state] / str(job.id)
        if target.exists():  # a crash after an earlier copy of this step; keep the newest
            shutil.rmtree(target)
        os.replace(folder, target)
        fsync_dir(target.parent)
        return str(target)

    def reclaim(self, job: Job) -> bool:
        """Bring a failed job's inputs back into the active folder (to retry it)."""
        src = self.location(job)
        if src is None:
            return False
        if src != self.job_dir(job.id):
            os.replace(src, self.job_dir(job.id))
            (self.job_dir(job.id) / REASON_FILE).unlink(missing_ok=True)
        return True

    def clean_leftovers(self) -> None:
        """Remove half-done deletions left by a crash."""
        for p in self.jobs_dir.glob(".delete-*"):
            shutil.rmtree(p, ignore_errors=True)


def _inside(p: Path, root: Path) -> bool:
    try:
        p.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _move(src: Path, target: Path) -> None:
    """Rename within a file system; copy + fsync + unlink across file systems."""
    try:
        os.rename(src, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        tmp = target.with_name(f".{target.name}.part")
        shutil.copyfile(src, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        src.unlink()


def _link_or_copy(src: Path, target: Path) -> None:
    try:
        os.link(src, target)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise FileNotFoundError(str(src)) from None
        tmp = target.with_name(f".{target.name}.part")
        shutil.copyfile(src, tmp)
        os.replace(tmp, target)
