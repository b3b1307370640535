"""The job ledger: one SQLite database (WAL) that says where every received series stands.

A job is one *version* of a series: its SeriesInstanceUID plus a content hash over the
(SOP Instance UID, file SHA-256) pairs of its files. The pair is unique among non-duplicate
jobs, so the same series dropped twice is recognised, and a series with new or changed
instances becomes a new version. States::

    received -> queued -> running -> done | rejected | failed
    received -> duplicate            (the same content as an existing job)

Every transition is one transaction that checks the state it leaves (``UPDATE ... WHERE
state IN (...)``), so a crash leaves either the old state or the new one, never half, and an
audit row per transition records when it happened. ``synchronous=FULL`` because the ledger
is the record of what happened to patients' studies: losing the last commit on power loss
would be worse than the few milliseconds per commit.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Callable, Iterable

log = logging.getLogger(__name__)



class JobState(StrEnum):
    """A job's state in the ledger; the values are what the SQLite file stores (a contract of
    the state folder: never rename them)."""

    RECEIVED = "received"
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    REJECTED = "rejected"
    FAILED = "failed"
    DUPLICATE = "duplicate"


RECEIVED, QUEUED, RUNNING = JobState.RECEIVED, JobState.QUEUED, JobState.RUNNING
DONE, REJECTED, FAILED, DUPLICATE = JobState.DONE, JobState.REJECTED, JobState.FAILED, JobState.DUPLICATE
ACTIVE = (RECEIVED, QUEUED, RUNNING)
TERMINAL = (DONE, REJECTED, FAILED, DUPLICATE)
STATES = ACTIVE + TERMINAL

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    series_uid TEXT,
    study_uid TEXT,
    accession TEXT,
    content_hash TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    n_files INTEGER NOT NULL DEFAULT 0,
    duplicate_of INTEGER REFERENCES jobs(id),
    error_code TEXT,
    error_message TEXT,
    last_error TEXT,
    outputs TEXT,
    enqueued INTEGER NOT NULL DEFAULT 0,
    inputs_location TEXT,
    created REAL NOT NULL,
    queued_at REAL,
    started_at REAL,
    finished_at REAL,
    updated REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_version
    ON jobs (IFNULL(series_uid, ''), content_hash) WHERE duplicate_of IS NULL;
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, id);
CREATE TABLE IF NOT EXISTS job_files (
    job_id INTEGER NOT NULL REFERENCES jobs(id),
    seq INTEGER NOT NULL,
    sop_uid TEXT,
    sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
CREATE TABLE IF NOT EXISTS transitions (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES jobs(id),
    from_state TEXT,
    to_state TEXT NOT NULL,
    at REAL NOT NULL,
    note TEXT
);
CREATE INDEX IF NOT EXISTS transitions_job ON transitions (job_id);
"""


class TransitionError(RuntimeError):
    """A transition from a state the job is not in: a programming error, never user input."""


@dataclass(frozen=True)
class FileEntry:
    """One input file of a job: where it came from and its name in the job folder."""

    seq: int
    sop_uid: str | None
    sha256: str
    source: str
    name: str


@dataclass(frozen=True)
class Job:
    """A row of ``jobs`` (read-only snapshot)."""

    id: int
    series_uid: str | None
    study_uid: str | None
    accession: str | None
    content_hash: str
    version: int
    state: JobState
    attempts: int
    n_files: int
    duplicate_of: int | None
    error_code: str | None
    error_message: str | None
    last_error: str | None
    outputs: list[dict[str, Any]] | None
    enqueued: int
    inputs_location: str | None
    created: float
    queued_at: float | None
    started_at: float | None
    finished_at: float | None
    updated: float

    @property
    def label(self) -> str:
        """How logs name the job: UIDs and accession only, never the patient."""
        acc = f" accession {self.accession}" if self.accession else ""
        return f"job {self.id} series {self.series_uid or '-'} (study {self.study_uid or '-'}{acc})"


def content_hash(pairs: Iterable[tuple[str | None, str]]) -> str:
    """Hash of a series version: sorted (SOP Instance UID, file SHA-256) pairs."""
    h = hashlib.sha256()
    for sop, sha in sorted((s or "", d) for s, d in pairs):
        h.update(f"{sop}\0{sha}\n".encode("ascii", "replace"))
    return h.hexdigest()


class Ledger:
    """The job ledger under ``state_dir/ledger.sqlite``; safe to reopen after kill -9."""

    def __init__(self, state_dir: Path | str, clock: Callable[[], float] = time.time,
                 readonly: bool = False) -> None:
        self.path = Path(state_dir) / "ledger.sqlite"
        self.clock = clock
        if readonly:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30,
                                       isolation_level=None)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
        self._db.row_factory = sqlite3.Row

    def close(self) -> None:
        self._db.close()

    # -- transactions ---------------------------------------------------------------------
    def _tx(self) -> "_Tx":
        return _Tx(self._db)

    def _audit(self, job_id: int, old: str | None, new: str, now: float, note: str | None) -> None:
        self._db.execute("INSERT INTO transitions (job_id, from_state, to_state, at, note) VALUES (?,?,?,?,?)",
                         (job_id, old, new, now, note))

    # -- creation -------------------------------------------------------------------------
    def find_version(self, series_uid: str | None, chash: str) -> Job | None:
        """The (non-duplicate) job holding exactly this content, if any."""
        row = self._db.execute(
            "SELECT * FROM jobs WHERE IFNULL(series_uid, '')=? AND content_hash=? AND duplicate_of IS NULL",
            (series_uid or "", chash)).fetchone()
        return _job(row)

    def latest_version(self, series_uid: str) -> Job | None:
        row = self._db.execute("SELECT * FROM jobs WHERE series_uid=? AND duplicate_of IS NULL"
                               " ORDER BY version DESC, id DESC LIMIT 1", (series_uid,)).fetchone()
        return _job(row)

    def create(self, *, series_uid: str | None, study_uid: str | None, accession: str | None,
               files: list[FileEntry], chash: str, duplicate_of: int | None = None,
               version: int = 1, note: str | None = None, error_code: str | None = None,
               error_message: str | None = None) -> Job:
        """Insert a job in ``received`` with its file list, in one transaction. An error given
        here (an unreadable file) sends the job to ``rejected`` once its file is taken in."""
        now = self.clock()
        with self._tx():
            cur = self._db.execute(
                "INSERT INTO jobs (series_uid, study_uid, accession, content_hash, version, state, n_files,"
                " duplicate_of, error_code, error_message, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (series_uid, study_uid, accession, chash, version, RECEIVED, len(files), duplicate_of,
                 error_code, error_message, now, now))
            job_id = int(cur.lastrowid)
            self._db.executemany(
                "INSERT INTO job_files (job_id, seq, sop_uid, sha256, source, name) VALUES (?,?,?,?,?,?)",
                [(job_id, f.seq, f.sop_uid, f.sha256, f.source, f.name) for f in files])
            self._audit(job_id, None, RECEIVED, now, note)
        job = self.get(job_id)
        log.info("%s: received, %d file(s), version %d%s", job.label, len(files), version,
                 f" (duplicate of job {duplicate_of})" if duplicate_of else "")
        return job

    # -- transitions ----------------------------------------------------------------------
    def transition(self, job_id: int, from_states: tuple[str, ...], to: str, *, note: str | None = None,
                   **fields: Any) -> Job:
        """Move a job from one of ``from_states`` to ``to`` and set ``fields``, atomically."""
        if to not in STATES:
            raise ValueError(f"unknown state {to!r}")
        now = self.clock()
        stamp = {QUEUED: "queued_at", RUNNING: "started_at"}.get(to)
        if to in TERMINAL:
            stamp = "finished_at"
        values = dict(fields)
        if stamp and stamp not in values:
            values[stamp] = now
        if "outputs" in values and values["outputs"] is not None and not isinstance(values["outputs"], str):
            values["outputs"] = json.dumps(values["outputs"])
        sets = ", ".join(f"{k}=?" for k in values)
        marks = ",".join("?" * len(from_states))
        with self._tx():
            row = self._db.execute("SELECT state FROM jobs WHERE id=?", (job_id,)).fetchone()
            cur = self._db.execute(
                f"UPDATE jobs SET state=?, updated=?{', ' + sets if sets else ''} WHERE id=? AND state IN ({marks})",
                (to, now, *values.values(), job_id, *from_states))
            if cur.rowcount != 1:
                raise TransitionError(f"job {job_id} is {row['state'] if row else 'missing'}, "
                                      f"not {'/'.join(from_states)}; cannot move it to {to}")
            self._audit(job_id, row["state"], to, now, note)
        job = self.get(job_id)
        log.info("%s: %s -> %s%s%s", job.label, row["state"], to, _timing(job, to),
                 f" [{job.error_code}] {job.error_message}" if to in (REJECTED, FAILED) else
                 (f" ({note})" if note else ""))
        return job

    def update(self, job_id: int, **fields: Any) -> None:
        """Set bookkeeping fields without a state change (inputs location, enqueued flag)."""
        if "outputs" in fields and fields["outputs"] is not None and not isinstance(fields["outputs"], str):
            fields["outputs"] = json.dumps(fields["outputs"])
        sets = ", ".join(f"{k}=?" for k in fields)
        with self._tx():
            self._db.execute(f"UPDATE jobs SET {sets}, updated=? WHERE id=?",
                             (*fields.values(), self.clock(), job_id))

    def start(self, job_id: int) -> Job:
        """queued -> running, counting the attempt."""
        with self._tx():
            self._db.execute("UPDATE jobs SET attempts=attempts+1 WHERE id=? AND state=?", (job_id, QUEUED))
        return self.transition(job_id, (QUEUED,), RUNNING)

    def recover(self) -> list[Job]:
        """After an unclean stop: running jobs go back to queued (the attempt counts)."""
        jobs = self.jobs(RUNNING)
        for job in jobs:
            self.transition(job.id, (RUNNING,), QUEUED, note="re-queued after restart",
                            last_error="interrupted: the daemon stopped while the job was running")
        return jobs

    # -- queries --------------------------------------------------------------------------
    def get(self, job_id: int) -> Job:
        job = _job(self._db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone())
        if job is None:
            raise KeyError(job_id)
        return job

    def jobs(self, *states: str) -> list[Job]:
        if states:
            marks = ",".join("?" * len(states))
            rows = self._db.execute(f"SELECT * FROM jobs WHERE state IN ({marks}) ORDER BY id", states)
        else:
            rows = self._db.execute("SELECT * FROM jobs ORDER BY id")
        return [_job(r) for r in rows.fetchall()]

    def next_queued(self, exclude: Iterable[int] = ()) -> Job | None:
        skip = set(exclude)
        for row in self._db.execute("SELECT * FROM jobs WHERE state=? ORDER BY id", (QUEUED,)):
            if row["id"] not in skip:
                return _job(row)
        return None

    def files(self, job_id: int) -> list[FileEntry]:
        rows = self._db.execute("SELECT seq, sop_uid, sha256, source, name FROM job_files WHERE job_id=?"
                                " ORDER BY seq", (job_id,)).fetchall()
        return [FileEntry(*r) for r in rows]

    def history(self, job_id: int) -> list[tuple[str | None, str, float, str | None]]:
        rows = self._db.execute("SELECT from_state, to_state, at, note FROM transitions WHERE job_id=?"
                                " ORDER BY id", (job_id,)).fetchall()
        return [tuple(r) for r in rows]

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATES}
        for state, n in self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state"):
            out[state] = n
        return out

    def oldest_waiting(self) -> Job | None:
        marks = ",".join("?" * len(ACTIVE))
        return _job(self._db.execute(f"SELECT * FROM jobs WHERE state IN ({marks}) ORDER BY created, id LIMIT 1",
                                     ACTIVE).fetchone())

    def last_errors(self, n: int = 5) -> list[Job]:
        rows = self._db.execute("SELECT * FROM jobs WHERE state IN (?, ?) ORDER BY finished_at DESC, id DESC"
                                " LIMIT ?", (REJECTED, FAILED, n)).fetchall()
        return [_job(r) for r in rows]


class _Tx:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on any exception)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _job(row: sqlite3.Row | None) -> Job | None:
    if row is None:
        return None
    d = dict(row)
    d["outputs"] = json.loads(d["outputs"]) if d["outputs"] else None
    d["state"] = JobState(d["state"])   # converted where it enters: an unknown state fails here
    return Job(**d)


def _timing(job: Job, to: str) -> str:
    if to == RUNNING:
        return f" (attempt {job.attempts}, waited {job.started_at - (job.queued_at or job.created):.1f} s)"
    if to in TERMINAL and job.started_at and to != DUPLICATE:
        return f" (ran {job.finished_at - job.started_at:.1f} s, {job.finished_at - job.created:.1f} s since received)"
    return ""
