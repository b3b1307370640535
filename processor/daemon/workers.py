"""Worker processes: each job runs outside the daemon, so a crash costs one attempt, not the service.

A small pool of long-lived processes (``spawn``: no threads, locks or SQLite handles inherited
from the daemon) each builds its processing function once (the :class:`Pipeline` loads the
atlas, normal database and model, a few seconds) and then takes one job at a time over a pipe.
The daemon always knows which job each worker holds, so when a worker dies (segfault, OOM
kill, ``os._exit``) exactly that job is charged, and a fresh worker replaces it.

Workers ignore SIGINT and SIGTERM: a Ctrl-C in a terminal or systemd's stop signal goes to the
daemon, which lets running jobs finish. They die with the daemon (``PR_SET_PDEATHSIG``), so
after ``kill -9`` of the daemon no orphan keeps writing results that a restart recomputes.
"""
from __future__ import annotations

import ctypes
import importlib
import logging
import multiprocessing as mp
import multiprocessing.connection as mpc
import os
import resource
import signal
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Callable, NamedTuple

from processor import logsetup
from spectssp.errors import ErrorCode, SpectSSPError
from spectssp.resources import MEMORY_PER_TASK_GB, plan, this_machine

log = logging.getLogger(__name__)

ProcessFn = Callable[[list[Path], Path], list[dict[str, Any]]]
PIPELINE_FACTORY = "processor.daemon.production:pipeline_factory"  # imported by name in the workers only


def resolve(spec: str) -> Callable[[Any], ProcessFn]:
    """``"package.module:function"`` -> the function (specs cross the process boundary, objects don't)."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _die_with_parent(parent_pid: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


# -- messages over the pipe (picklable: they cross a spawn boundary) ---------------------
class JobRequest(NamedTuple):
    """Daemon -> worker: run one job (paths as strings: plain data over the pipe)."""

    job_id: int
    paths: list[str]
    out_root: str


class WorkerReady(NamedTuple):
    """Worker -> daemon: built its processing function, takes jobs."""

    pid: int


class InitFailed(NamedTuple):
    """Worker -> daemon: could not build its processing function (the daemon stops)."""

    code: ErrorCode
    message: str


class JobStage(NamedTuple):
    """Worker -> daemon: the running job entered a stage (shown on the status page)."""

    job_id: int
    stage: str


class JobDone(NamedTuple):
    """Worker -> daemon: the job ran; one result dict per series."""

    job_id: int
    results: list[dict[str, Any]]
    rss_mb: float


class JobError(NamedTuple):
    """Worker -> daemon: the job raised; the code and sentence go to the ledger."""

    job_id: int
    code: ErrorCode
    message: str
    rss_mb: float


WorkerMessage = WorkerReady | InitFailed | JobStage | JobDone | JobError

_running: tuple[mpc.Connection, int] | None = None   # in a worker process: its pipe and the job it runs


def report_stage(stage: str) -> None:
    """Tell the daemon which stage the job this worker process runs has entered (a stage
    observer, :attr:`processor.pipeline.Pipeline.on_stage`). Outside a job it does nothing; a
    message that cannot be sent is logged at debug level and ignored, never failing the job."""
    if _running is None:
        return
    conn, job_id = _running
    try:
        conn.send(JobStage(job_id, str(stage)))
    except Exception:  # noqa: BLE001 - a lost stage costs a display line, never the job
        log.debug("job %s: cannot report stage %s", job_id, stage, exc_info=True)


def worker_main(conn: mpc.Connection, factory: str, cfg: Any, parent_pid: int, log_file: str | None) -> None:
    """Entry point of a worker process: build the function once, then serve jobs until told to stop."""
    global _running
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent(parent_pid)
    logsetup.setup_process(logging.WARNING, log_file, logsetup.WORKER_CONSOLE_FORMAT)
    try:
        fn = resolve(factory)(cfg)
    except SpectSSPError as exc:
        conn.send(InitFailed(exc.code, exc.message))
        return
    except BaseException as exc:  # noqa: BLE001 - reported to the daemon, which stops cleanly
        logging.getLogger(__name__).debug("worker start-up failed", exc_info=True)
        conn.send(InitFailed(ErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"))
        return
    conn.send(WorkerReady(os.getpid()))
    while True:
        try:
            req: JobRequest | None = conn.recv()
        except (EOFError, OSError):
            return
        if req is None:
            return
        _running = (conn, req.job_id)
        try:
            outcome = _run_one(fn, req.job_id, [Path(p) for p in req.paths], Path(req.out_root))
        finally:
            _running = None
        conn.send(outcome)


def _run_one(fn: ProcessFn, job_id: int, paths: list[Path], out_root: Path) -> JobDone | JobError:
    """Run one job; every exception becomes an (error code, sentence) for the ledger."""
    try:
        return JobDone(job_id, fn(paths, out_root), peak_rss_mb())
    except SpectSSPError as exc:
        return JobError(job_id, exc.code, exc.message, peak_rss_mb())
    except OSError as exc:
        where = str(exc.filename or "")
        if where.startswith(str(out_root)):
            return JobError(job_id, ErrorCode.OUTPUT_WRITE_FAILED,
                            f"cannot write results in the output folder {str(out_root)!r}: {exc.strerror or exc}.",
                            peak_rss_mb())
        logging.getLogger(__name__).debug("job %s: OS error", job_id, exc_info=True)
        return JobError(job_id, ErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}", peak_rss_mb())
    except Exception as exc:  # a bug: the trace goes to the log file, the daemon goes on
        logging.getLogger(__name__).error("job %s: unexpected %s", job_id, type(exc).__name__, exc_info=True)
        return JobError(job_id, ErrorCode.INTERNAL_ERROR, f"unexpected {type(exc).__name__}: {exc}", peak_rss_mb())


# -- what the pool reports to the daemon -------------------------------------------------
class EventKind(StrEnum):
    """What happened: a worker became ready or could not start, a job ended or its worker died."""

    READY = "ready"
    INIT_FAILED = "init_failed"
    STAGE = "stage"
    RESULT = "result"
    ERROR = "error"
    CRASHED = "crashed"


@dataclass
class Event:
    """What the pool reports; ``job_id`` is set for STAGE, RESULT, ERROR and CRASHED (STAGE:
    the stage's name in ``message``)."""

    kind: EventKind
    job_id: int | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    code: ErrorCode | None = None
    message: str | None = None
    rss_mb: float | None = None
    worker_pid: int | None = None


@dataclass
class _Worker:
    proc: Any
    conn: mpc.Connection
    ready: bool = False
    job_id: int | None = None
    started: float = 0.0
    killed_for: str | None = None
    peak_rss_mb: float = 0.0


class WorkerPool:
    """``n`` worker processes running ``factory``; the daemon's only way to run jobs."""

    def __init__(self, n: int, factory: str, cfg: Any, *, start_method: str = "spawn",
                 log_file: str | None = None) -> None:
        self.n, self.factory, self.cfg, self.log_file = n, factory, cfg, log_file
        self.ctx = mp.get_context(start_method)
        self.workers: list[_Worker] = []
        self.closing = False
        self.peak_rss_mb: dict[int, float] = {}

    def start(self) -> None:
        while len(self.workers) < self.n:
            self._spawn()

    def _spawn(self) -> None:
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=worker_main, name="spectssp-worker", daemon=True,
                                args=(child, self.factory, self.cfg, os.getpid(), self.log_file))
        proc.start()
        child.close()
        self.workers.append(_Worker(proc, parent))
        log.debug("worker %d started", proc.pid)

    # -- jobs -----------------------------------------------------------------------------
    def idle(self) -> list[_Worker]:
        return [w for w in self.workers if w.ready and w.job_id is None]

    @property
    def busy(self) -> dict[int, int]:
        """job id -> worker pid of every running job."""
        return {w.job_id: w.proc.pid for w in self.workers if w.job_id is not None}

    def submit(self, worker: _Worker, job_id: int, paths: list[Path], out_root: Path) -> None:
        worker.conn.send(JobRequest(job_id, [str(p) for p in paths], str(out_root)))
        worker.job_id, worker.started = job_id, time.monotonic()

    def kill_overdue(self, timeout_s: float) -> None:
        """SIGKILL workers whose job has run longer than ``timeout_s`` (reported as crashed)."""
        now = time.monotonic()
        for w in self.workers:
            if w.job_id is not None and w.killed_for is None and now - w.started > timeout_s:
                log.error("job %d: no result after %.0f s; killing worker %d", w.job_id, timeout_s, w.proc.pid)
                w.killed_for = f"it ran longer than daemon.job_timeout_s ({timeout_s:.0f} s)"
                w.proc.kill()

    def wait(self, timeout: float) -> list[Event]:
        """Wait up to ``timeout`` s for messages or worker deaths; dead workers are replaced."""
        handles: list[Any] = [w.conn for w in self.workers] + [w.proc.sentinel for w in self.workers]
        if not handles:
            time.sleep(timeout)
            return []
        ready = mpc.wait(handles, timeout)
        events: list[Event] = []
        for w in list(self.workers):
            if w.conn in ready:
                try:
                    while w.conn.poll():
                        events.append(self._message(w, w.conn.recv()))
                except (EOFError, OSError):
                    pass
            if w.proc.sentinel in ready or not w.proc.is_alive():
                w.proc.join(timeout=5)
                if w.proc.exitcode is not None:
                    events.extend(self._dead(w))
        return events

    def _message(self, w: _Worker, msg: WorkerMessage) -> Event:
        if isinstance(msg, WorkerReady):
            w.ready = True
            return Event(EventKind.READY, worker_pid=msg.pid)
        if isinstance(msg, InitFailed):
            return Event(EventKind.INIT_FAILED, code=msg.code, message=msg.message, worker_pid=w.proc.pid)
        if isinstance(msg, JobStage):   # the job goes on: the worker still holds it
            return Event(EventKind.STAGE, msg.job_id, message=msg.stage, worker_pid=w.proc.pid)
        w.job_id, w.killed_for = None, None
        w.peak_rss_mb = max(w.peak_rss_mb, msg.rss_mb)
        self.peak_rss_mb[w.proc.pid] = w.peak_rss_mb
        if isinstance(msg, JobDone):
            return Event(EventKind.RESULT, msg.job_id, results=msg.results, rss_mb=msg.rss_mb, worker_pid=w.proc.pid)
        return Event(EventKind.ERROR, msg.job_id, code=msg.code, message=msg.message, rss_mb=msg.rss_mb,
                     worker_pid=w.proc.pid)

    def _dead(self, w: _Worker) -> list[Event]:
        self.workers.remove(w)
        w.conn.close()
        code = w.proc.exitcode
        how = f"signal {-code} ({_signame(-code)})" if code is not None and code < 0 else f"exit code {code}"
        events = []
        if w.job_id is not None:
            reason = w.killed_for or f"the worker process died ({how})"
            log.warning("worker %d died (%s) while running job %d", w.proc.pid, how, w.job_id)
            events.append(Event(EventKind.CRASHED, w.job_id, code=ErrorCode.WORKER_CRASHED, message=reason,
                                worker_pid=w.proc.pid))
        elif not self.closing:
            log.warning("idle worker %d died (%s)", w.proc.pid, how)
        if not self.closing and len(self.workers) < self.n:
            self._spawn()
        return events

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Ask idle workers to stop; kill any that do not within ``timeout_s``."""
        self.closing = True
        for w in self.workers:
            try:
                w.conn.send(None)
            except OSError:
                pass
        deadline = time.monotonic() + timeout_s
        for w in self.workers:
            w.proc.join(timeout=max(0.1, deadline - time.monotonic()))
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(timeout=5)
            w.conn.close()
        self.workers = []


def _signame(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return "unknown"


def default_workers(mem_per_worker_gb: float = MEMORY_PER_TASK_GB) -> int:
    """Workers from cores and memory: the shared rule (:func:`spectssp.resources.plan`)."""
    return plan(this_machine(), memory_per_task_gb=mem_per_worker_gb).tasks
