"""Durable delivery queue: results wait here until each destination has stored them.

A PACS that is down must not lose results, and a restart must resume where it stopped. Each
enqueued file is first copied into ``<state>/outbox/files`` (temp + fsync + rename), then a
row per (destination, SOP Instance UID) goes into SQLite (WAL). ``deliver_due`` sends what
is due, one association per destination, and schedules failures with exponential backoff.
A file leaves the queue only as delivered; with ``max_attempts`` reached it stays, marked
failed, for an operator to see in ``spectssp status``. The clock is injected for tests.

Delivery is at least once across a crash between the peer's success status and the SQLite
commit; archives deduplicate by SOP Instance UID, so the result still appears once.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import pydicom

from processor.dicom_out.sanitize import safe_uid_for_filename
from spectssp.fsutil import atomic_copy
from processor.net.scu import SendResult, send_files

logger = logging.getLogger(__name__)

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
Sender = Callable[..., list[SendResult]]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    dest_key TEXT NOT NULL,
    destination TEXT NOT NULL,
    sop_instance_uid TEXT NOT NULL,
    study_uid TEXT NOT NULL,
    file TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_due REAL NOT NULL,
    last_error TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    UNIQUE (dest_key, sop_instance_uid)
);
CREATE INDEX IF NOT EXISTS items_due ON items (state, next_due);
"""


@dataclass(frozen=True)
class Destination:
    """Where results go by C-STORE (a ``destinations`` entry of the config)."""

    name: str
    ae_title: str
    host: str
    port: int

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any]) -> "Destination":
        return cls(name=str(d.get("name", d["ae_title"])), ae_title=str(d["ae_title"]),
                   host=str(d["host"]), port=int(d["port"]))

    @property
    def key(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


class Outbox:
    """SQLite-backed queue under ``<state_dir>/outbox``; safe to reopen after a crash."""

    def __init__(self, state_dir: Path | str, *, retry_initial_s: float = 5.0,
                 retry_max_s: float = 600.0, max_attempts: int = 0, timeout_s: float = 30.0,
                 calling_aet: str = "SPECTSSP", clock: Callable[[], float] = time.time,
                 sender: Sender = send_files) -> None:
        self.root = Path(state_dir) / "outbox"
        self.files_dir = self.root / "files"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.retry_initial_s = float(retry_initial_s)
        self.retry_max_s = float(retry_max_s)
        self.max_attempts = int(max_attempts)
        self.timeout_s = float(timeout_s)
        self.calling_aet = calling_aet
        self.clock = clock
        self.sender = sender
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.root / "outbox.sqlite", timeout=30, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], **kwargs: Any) -> "Outbox":
        """Build from a validated config (``paths.state``, ``delivery.*``, ``scp.ae_title``)."""
        d = cfg["delivery"]
        return cls(cfg["paths"]["state"], retry_initial_s=d["retry_initial_s"],
                   retry_max_s=d["retry_max_s"], max_attempts=d["max_attempts"],
                   timeout_s=d["timeout_s"], calling_aet=cfg["scp"]["ae_title"], **kwargs)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def enqueue(self, files: Iterable[Path | str], destination: Destination | Mapping[str, Any]) -> int:
        """Copy ``files`` into the outbox and queue them for ``destination``; returns how many
        were newly queued (an instance already queued for that destination is not repeated)."""
        dest = destination if isinstance(destination, Destination) else Destination.from_mapping(destination)
        added = 0
        for f in map(Path, files):
            meta = pydicom.dcmread(f, stop_before_pixels=True,
                                   specific_tags=["SOPInstanceUID", "StudyInstanceUID"])
            sop = safe_uid_for_filename(str(meta.SOPInstanceUID))
            study = str(meta.get("StudyInstanceUID", ""))
            with self._lock:
                exists = self._db.execute(
                    "SELECT 1 FROM items WHERE dest_key=? AND sop_instance_uid=?", (dest.key, sop)).fetchone()
                if exists:
                    continue
                copy = self._copy_in(f, dest, sop)
                now = self.clock()
                self._db.execute(
                    "INSERT INTO items (dest_key, destination, sop_instance_uid, study_uid, file, state,"
                    " attempts, next_due, created, updated) VALUES (?,?,?,?,?,?,0,?,?,?)",
                    (dest.key, json.dumps(dest.__dict__), sop, study, str(copy), PENDING, now, now, now))
            added += 1
            logger.info("study %s: queued %s for %s", study, sop, dest.name)
        return added

    def _copy_in(self, src: Path, dest: Destination, sop: str) -> Path:
        folder = self.files_dir / _dest_folder(dest)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{sop}.dcm"
        atomic_copy(Path(src), target)
        return target

    def deliver_due(self, now: float | None = None) -> dict[str, int]:
        """Try every pending item due at ``now``; returns counts (delivered, retry, failed)."""
        now = self.clock() if now is None else now
        with self._lock:
            rows = self._db.execute(
                "SELECT id, destination, file, attempts, study_uid FROM items"
                " WHERE state=? AND next_due<=? ORDER BY id", (PENDING, now)).fetchall()
        by_dest: dict[str, list[tuple[int, str, int, str]]] = {}
        for rid, dest_json, path, attempts, study in rows:
            by_dest.setdefault(dest_json, []).append((rid, path, attempts, study))
        counts = {"delivered": 0, "retry": 0, "failed": 0}
        for dest_json, items in by_dest.items():
            dest = Destination(**json.loads(dest_json))
            results = self.sender([Path(p) for _, p, _, _ in items], dest.ae_title, dest.host,
                                  dest.port, calling_aet=self.calling_aet, timeout_s=self.timeout_s)
            for (rid, path, attempts, study), res in zip(items, results):
                counts[self._record(rid, path, attempts, study, dest, res, now)] += 1
        return counts

    def _record(self, rid: int, path: str, attempts: int, study: str, dest: Destination,
                res: SendResult, now: float) -> str:
        attempts += 1
        with self._lock:
            if res.ok:
                self._db.execute("UPDATE items SET state=?, attempts=?, updated=?, last_error=NULL"
                                 " WHERE id=?", (DELIVERED, attempts, now, rid))
                Path(path).unlink(missing_ok=True)
                logger.info("study %s: delivered %s to %s", study, Path(path).stem, dest.name)
                return "delivered"
            message = res.error.message if res.error else "unknown delivery failure"
            if self.max_attempts and attempts >= self.max_attempts:
                self._db.execute("UPDATE items SET state=?, attempts=?, updated=?, last_error=?"
                                 " WHERE id=?", (FAILED, attempts, now, message, rid))
                logger.error("study %s: giving up on %s for %s after %d attempts (kept in the outbox): %s",
                             study, Path(path).stem, dest.name, attempts, message)
                return "failed"
            delay = min(self.retry_max_s, self.retry_initial_s * 2 ** (attempts - 1))
            self._db.execute("UPDATE items SET attempts=?, next_due=?, updated=?, last_error=?"
                             " WHERE id=?", (attempts, now + delay, now, message, rid))
            logger.warning("study %s: delivery of %s to %s failed (attempt %d), retry in %.0f s: %s",
                           study, Path(path).stem, dest.name, attempts, delay, message)
            return "retry"

    def items(self) -> list[dict[str, Any]]:
        """Every row, oldest first (for tests and detailed status)."""
        with self._lock:
            cur = self._db.execute("SELECT id, dest_key, sop_instance_uid, study_uid, file, state,"
                                   " attempts, next_due, last_error FROM items ORDER BY id")
            names = [c[0] for c in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per destination: counts by state, the next retry time and the last error."""
        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            rows = self._db.execute(
                "SELECT destination, state, COUNT(*), MIN(next_due) FROM items GROUP BY destination, state"
            ).fetchall()
            # ordered by time, so dict() keeps the latest error per destination
            errors = dict(self._db.execute(
                "SELECT destination, last_error FROM items WHERE last_error IS NOT NULL AND state!=?"
                " ORDER BY updated", (DELIVERED,)).fetchall())
        for dest_json, state, count, next_due in rows:
            dest = Destination(**json.loads(dest_json))
            entry = out.setdefault(dest.name, {"destination": dest.key, PENDING: 0, DELIVERED: 0,
                                               FAILED: 0, "next_due": None, "last_error": None})
            entry[state] = count
            if state == PENDING:
                entry["next_due"] = next_due
            entry["last_error"] = errors.get(dest_json)
        return out


def _dest_folder(dest: Destination) -> str:
    """A file-system-safe folder name per destination, independent of user text."""
    return hashlib.sha256(dest.key.encode("utf-8")).hexdigest()[:16]


__all__: Sequence[str] = ("Outbox", "Destination", "PENDING", "DELIVERED", "FAILED")
