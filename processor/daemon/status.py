"""``spectssp status``: what the ledger and the outbox say, for people and for monitoring.

Read-only on the ledger (SQLite ``mode=ro``), so it is safe to run while the daemon works.
"""
from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path
from typing import Any

from processor.config import BUNDLED, Section, database_entries
from processor.daemon.ledger import ACTIVE, RUNNING, Ledger
from processor.daemon.stages import read_stage

log = logging.getLogger(__name__)


def daemon_pid(state: Path) -> int | None:
    """PID of the daemon holding the state folder's lock, or None when none runs."""
    lock = state / "daemon.lock"
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            return int(os.read(fd, 32).decode().strip() or 0) or -1
        except ValueError:
            return -1
    finally:
        os.close(fd)
    return None


def summary(cfg: Section, now: float | None = None, n_errors: int = 5) -> dict[str, Any]:
    """Counts by state, the running jobs (with their stage), the oldest waiting job, the last
    errors and the delivery backlog."""
    now = time.time() if now is None else now
    state = Path(cfg.paths.state)
    out: dict[str, Any] = {"state_dir": str(state), "daemon_pid": daemon_pid(state), "counts": {},
                           "running": [], "oldest_waiting": None, "last_errors": [],
                           "incoming_files": _count_files(Path(cfg.paths.incoming)),
                           "delivery": {}, "delivery_error": None, "normal_databases": database_summaries(cfg)}
    if (state / "ledger.sqlite").is_file():
        ledger = Ledger(state, readonly=True)
        try:
            out["counts"] = ledger.counts()
            out["running"] = [_running(state, j, now) for j in ledger.jobs(RUNNING)]
            oldest = ledger.oldest_waiting()
            if oldest is not None:
                out["oldest_waiting"] = {"job": oldest.id, "state": oldest.state, "series_instance_uid": oldest.series_uid,
                                         "study_instance_uid": oldest.study_uid, "age_s": round(now - oldest.created, 1),
                                         "attempts": oldest.attempts}
            out["last_errors"] = [{"job": j.id, "state": j.state, "series_instance_uid": j.series_uid,
                                   "study_instance_uid": j.study_uid, "code": j.error_code, "message": j.error_message,
                                   "at": j.finished_at} for j in ledger.last_errors(n_errors)]
        finally:
            ledger.close()
    if (state / "outbox" / "outbox.sqlite").is_file():
        try:
            from processor.net.outbox import Outbox  # deferred: 0.6 s, only when there is an outbox
            with Outbox(state) as ob:
                out["delivery"] = ob.summary()
        except Exception as exc:  # status must answer even when the outbox cannot be opened
            out["delivery_error"] = f"{type(exc).__name__}: {exc}"
    return out


def _running(state: Path, job: Any, now: float) -> dict[str, Any]:
    """A running job with the stage its worker reported (None before the first report)."""
    rec = read_stage(state, job.id)
    return {"job": job.id, "series_instance_uid": job.series_uid, "attempts": job.attempts,
            "elapsed_s": round(now - job.started_at, 1) if job.started_at else None,
            "stage": rec.stage if rec else None, "stage_s": round(max(0.0, now - rec.since), 1) if rec else None}


def database_summaries(cfg: Section) -> list[dict[str, Any]]:
    """The configured normal databases, each as it records itself (:meth:`NormalDatabase.describe`)
    with its path and model; one that cannot be read says why instead."""
    from atlas.load import BUNDLED_NORMAL_DATABASE
    from atlas.normaldb import NormalDatabase
    out = []
    for e in database_entries(cfg):
        path = BUNDLED_NORMAL_DATABASE if e.path == BUNDLED else Path(e.path)
        item: dict[str, Any] = {"path": str(path), "model": e.model}
        try:
            item.update(NormalDatabase.load(path, volumes=False).describe())
        except ValueError as exc:
            item["error"] = str(exc)
        if e.tracer:
            item["tracer"] = e.tracer   # the config names it (overrides the file's)
        out.append(item)
    return out


def database_lines(dbs: list[dict[str, Any]]) -> list[str]:
    """One line per configured database, for terminals."""
    lines = []
    for d in dbs:
        if "error" in d:
            lines.append(f"database: {d['path']}: {d['error']}")
            continue
        res = "not harmonised" if d.get("resolution_fwhm_mm") is None else f"{d['resolution_fwhm_mm']:g} mm"
        extra = "".join(f", {k} {v}" for k, v in d.items() if k.startswith("registration"))
        lines.append(f"database: {d['tracer']} N={d['members']} built {d.get('created') or '-'}, resolution {res}"
                     f"{extra}, sha256 {d['sha256']}, model {d['model'] or 'none (statistics only)'}; {d['path']}")
    return lines


def _count_files(root: Path) -> int:
    n = 0
    for dirpath, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        n += sum(not name.startswith(".") for name in names)
    return n


def format_text(s: dict[str, Any]) -> str:
    """The summary as a few lines for a terminal."""
    pid = s["daemon_pid"]
    lines = [f"daemon:   {'running (pid ' + str(pid) + ')' if pid else 'not running'}; state in {s['state_dir']}"]
    counts = s["counts"]
    if counts:
        lines.append("jobs:     " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        waiting = sum(counts.get(k, 0) for k in ACTIVE)
        lines.append(f"waiting:  {waiting} job(s), {s['incoming_files']} file(s) in the watch folder")
    else:
        lines.append(f"jobs:     none yet (no ledger); {s['incoming_files']} file(s) in the watch folder")
    for r in s.get("running", []):
        stage = f"{r['stage']} for {r['stage_s']:.0f} s" if r["stage"] else "starting"
        elapsed = f"{r['elapsed_s']:.0f} s" if r["elapsed_s"] is not None else "-"
        lines.append(f"running:  job {r['job']} {stage} (running {elapsed}, attempt {r['attempts']}) "
                     f"series {r['series_instance_uid'] or '-'}")
    o = s["oldest_waiting"]
    if o:
        lines.append(f"oldest:   job {o['job']} ({o['state']}, {o['age_s']:.0f} s, attempts {o['attempts']}) "
                     f"series {o['series_instance_uid'] or '-'}")
    for e in s["last_errors"]:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e["at"])) if e["at"] else "-"
        lines.append(f"error:    {when} job {e['job']} {e['state']} series {e['series_instance_uid'] or '-'} "
                     f"[{e['code']}] {e['message']}")
    for name, d in s["delivery"].items():
        nxt = f", next try in {max(0.0, d['next_due'] - time.time()):.0f} s" if d.get("next_due") else ""
        err = f"; last error: {d['last_error']}" if d.get("last_error") else ""
        lines.append(f"delivery: {name} ({d['destination']}): pending {d['pending']}, delivered {d['delivered']}, "
                     f"failed {d['failed']}{nxt}{err}")
    if not s["delivery"]:
        lines.append("delivery: " + (s["delivery_error"] or "nothing queued"))
    lines += database_lines(s.get("normal_databases", []))
    return "\n".join(lines)
