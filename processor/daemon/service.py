"""The daemon: watch folder (+ optional DICOM receiver) -> ledger -> workers -> outputs -> outbox.

One thread owns the ledger and every file move; workers are processes and report back over
pipes; the watchdog observer and the receiver only call :meth:`Daemon.notify`. So there are no
races between admitting, running and finishing a job, and every step is a ledger transition
that a restart can pick up from:

- start-up: jobs left ``received`` finish their file moves, ``running`` ones are re-queued,
  ended jobs whose folders were not yet moved are moved, done jobs whose outputs were not yet
  handed to the outbox are handed over, temporary folders of a crash are removed, and the
  watch folder is scanned for what arrived while the daemon was down;
- SIGTERM/SIGINT: stop taking files and jobs, let running jobs finish, exit 0.
"""
from __future__ import annotations

import fcntl
import logging
import os
import queue
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable, Protocol

from spectssp.errors import ErrorCode, SpectSSPError
from processor.config import Section, with_threads
from processor.daemon.assembly import Assembler, Ready, remove_empty_dirs
from processor.daemon.events import EventSource, WatchdogSource
from processor.daemon.jobfiles import JobFiles, entry_name
from processor.daemon.ledger import (DONE, DUPLICATE, FAILED, QUEUED, RECEIVED, REJECTED, RUNNING, FileEntry,
                                     Job, Ledger, content_hash)
from processor.daemon.stages import StageRecords
from processor.daemon.workers import PIPELINE_FACTORY, Event, EventKind, WorkerPool
from spectssp.fsutil import file_sha256
from spectssp.resources import plan, this_machine

log = logging.getLogger(__name__)


class Delivery(Protocol):
    """What the daemon needs of an outbox (:class:`processor.net.outbox.Outbox`, or a test double)."""

    def enqueue(self, files: list[Path], destination: Any) -> int: ...

    def deliver_due(self) -> dict[str, int]: ...

    def close(self) -> None: ...


class AlreadyRunning(SpectSSPError):
    """Another daemon holds the state folder's lock (code ``already_running``)."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.ALREADY_RUNNING, message)


class Daemon:
    """``spectssp watch`` as an object: construct, then :meth:`run` (or :meth:`start` + :meth:`step`)."""

    def __init__(self, cfg: Section, *, factory: str = PIPELINE_FACTORY,
                 events: EventSource | None = None, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, workers: int | None = None,
                 start_method: str = "spawn", log_file: str | None = None, outbox: Delivery | None = None,
                 scp_host: str | None = None) -> None:
        """``events``: what reports changes in the watch folder (None: inotify on paths.incoming;
        :class:`ManualSource` when the caller steps the daemon itself). ``outbox``: where DICOM
        outputs are queued for delivery (None: an :class:`Outbox` for the configured destinations,
        or no delivery when there are none)."""
        self.cfg = cfg
        self.incoming = Path(cfg.paths.incoming)
        self.output = Path(cfg.paths.output)
        self.state = Path(cfg.paths.state)
        d = cfg.daemon
        self.max_attempts = int(d.max_attempts)
        self.poll_s = float(d.poll_interval_s)
        self.rescan_s = float(d.rescan_interval_s)
        self.job_timeout_s = float(d.job_timeout_s)
        self.quiet_s = float(cfg.intake.quiet_period_s)
        self.clock = clock
        # one rule for the pool's size and each worker's threads (spectssp.resources)
        sizing = plan(this_machine(), tasks=workers or d.workers, threads=cfg.registration.threads)
        self.n_workers = sizing.tasks
        self.worker_cfg = with_threads(cfg, sizing.threads)
        self.factory, self.start_method, self.log_file = factory, start_method, log_file
        self.events: EventSource = WatchdogSource(self.incoming) if events is None else events
        self._outbox_arg = outbox
        self.scp_host = scp_host or cfg.scp.host
        self.wall = wall
        self._notified: queue.SimpleQueue[Path] = queue.SimpleQueue()
        self._stop = threading.Event()
        self.fatal: str | None = None
        self.ledger: Ledger | None = None
        self.files: JobFiles | None = None
        self.stages = StageRecords(self.state)   # state/running: each running job's stage, for display
        self.assembler = Assembler(self.incoming, self.quiet_s, clock)
        self.pool: WorkerPool | None = None
        self.outbox: Delivery | None = None
        self.scp: Any = None
        self._lock_fd: int | None = None
        self._delivery: threading.Thread | None = None
        self._next_rescan = 0.0
        self.peak_rss_mb: dict[int, float] = {}

    # -- control --------------------------------------------------------------------------
    def notify(self, path: Path | str) -> None:
        """Thread-safe: something changed at ``path`` (watchdog, receiver, tests)."""
        self._notified.put(Path(path))

    def request_stop(self) -> None:
        """Stop taking new work; running jobs finish (also what SIGTERM does)."""
        if not self._stop.is_set():
            log.info("stop requested: finishing running jobs, taking no new ones")
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT request a graceful stop (main thread only)."""
        def handler(signum: int, frame: Any) -> None:
            log.info("received %s", signal.Signals(signum).name)
            self.request_stop()
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> None:
        for d in (self.incoming, self.output, self.state):
            d.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        self.ledger = Ledger(self.state, clock=self.wall)
        self.files = JobFiles(self.state, self.incoming, self.cfg.daemon.archive_inputs)
        self.outbox = self._open_outbox()
        self.stages.clear()
        self._recover()
        self.pool = WorkerPool(self.n_workers, self.factory, self.worker_cfg, start_method=self.start_method,
                               log_file=self.log_file)
        self.pool.start()
        self.assembler.scan()
        self.events.start(self.notify)
        if self.cfg.scp.enabled:
            from processor.net.scp import start_scp  # deferred: 0.6 s that `spectssp status` would pay too
            self.scp = start_scp(self.cfg.scp.ae_title, self.cfg.scp.port, self.incoming,
                                 self.cfg.scp.allowed_calling_aets, host=self.scp_host,
                                 on_received=lambda p, study, series: self.notify(p),
                                 max_pdu=self.cfg.scp.max_pdu)
        if self.outbox is not None:
            self._delivery = threading.Thread(target=self._deliver_loop, name="spectssp-delivery", daemon=True)
            self._delivery.start()
        log.info("watching %s with %d worker(s); quiet period %.1f s; outputs in %s", self.incoming,
                 self.n_workers, self.quiet_s, self.output)

    def run(self) -> int:
        """Serve until a stop is requested; 0 after a clean stop, 1 when workers cannot start."""
        self.start()
        try:
            while not self.stopping:
                self.step()
            self._stop_intake()
            while self.pool.busy:
                self.step()
        finally:
            self.close()
        return 1 if self.fatal else 0

    def step(self, timeout: float | None = None) -> None:
        """One turn of the loop: take in files, admit complete series, dispatch, collect results."""
        now = self.clock()
        while True:
            try:
                self.assembler.touch(self._notified.get_nowait())
            except queue.Empty:
                break
        if not self.stopping:
            if now >= self._next_rescan:
                self.assembler.scan()
                remove_empty_dirs(self.incoming, self.quiet_s)
                self._next_rescan = now + self.rescan_s
            for ready in self.assembler.poll():
                try:
                    self._admit(ready)
                except OSError as exc:  # e.g. a file we may not move: keep serving, retry on rescan
                    log.error("series %s: cannot take in %d file(s): %s; will retry", ready.series_uid or "-",
                              len(ready.files), exc)
            self._dispatch()
        for ev in self.pool.wait(self.poll_s if timeout is None else timeout):
            self._handle(ev)
        self.pool.kill_overdue(self.job_timeout_s)

    def close(self) -> None:
        self._stop_intake()
        self._stop.set()
        if self.pool is not None:
            self.pool.shutdown()
            self.peak_rss_mb = dict(self.pool.peak_rss_mb)
            self.stages.clear()
        if self._delivery is not None:
            self._delivery.join(timeout=60)
            self._delivery = None
        if self.outbox is not None:
            self.outbox.close()
            self.outbox = None
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        log.info("daemon stopped")

    def _stop_intake(self) -> None:
        self.events.stop()
        if self.scp is not None:
            self.scp.shutdown()
            self.scp = None

    def _take_lock(self) -> None:
        fd = os.open(self.state / "daemon.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyRunning(f"another spectssp watch is using the state folder {str(self.state)!r}.") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _open_outbox(self) -> Delivery | None:
        if self._outbox_arg is not None:
            return self._outbox_arg
        if not self.cfg.destinations:
            return None
        from processor.net.outbox import Outbox  # deferred: 0.6 s that `spectssp status` would pay too
        return Outbox.from_config(self.cfg)

    def _deliver_loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            self._deliver_once()
        self._deliver_once()

    def _deliver_once(self) -> None:
        try:
            counts = self.outbox.deliver_due()
            if any(counts.values()):
                log.debug("delivery: %s", counts)
        except Exception:  # a delivery bug must not stop processing; the queue keeps the items
            log.exception("delivery round failed")

    # -- recovery -------------------------------------------------------------------------
    def _recover(self) -> None:
        L, F = self.ledger, self.files
        for pattern in (".staging-*", ".old-*"):
            for p in self.output.glob(pattern):
                log.info("removing temporary output folder %s left by a crash", p.name)
                shutil.rmtree(p, ignore_errors=True)
        for p in (self.incoming / ".partial").glob("*.part"):
            p.unlink(missing_ok=True)
        F.clean_leftovers()
        for job in L.jobs(RECEIVED):
            F.gather(job.id, L.files(job.id))
            self._after_receive(L.get(job.id))
        L.recover()
        for job in L.jobs(DONE, REJECTED, FAILED, DUPLICATE):
            if F.job_dir(job.id).is_dir():
                self._dispose(job)
        for job in L.jobs(DONE):
            if not job.enqueued:
                self._enqueue(job)

    # -- admission ------------------------------------------------------------------------
    def _admit(self, ready: Ready) -> None:
        """A complete series (or an unreadable file) becomes a job, a new version or a duplicate."""
        L = self.ledger
        entries = []
        for i, (path, sop) in enumerate(ready.files):
            sha = file_sha256(path)
            if sha is None:
                log.warning("file vanished before it could be taken in (series %s)", ready.series_uid)
                continue
            entries.append(FileEntry(i, sop, sha, str(path), entry_name(i, sop)))
        if not entries:
            return
        chash = content_hash((e.sop_uid, e.sha256) for e in entries)
        same = L.find_version(ready.series_uid, chash)
        latest = L.latest_version(ready.series_uid) if ready.series_uid and same is None else None
        if same is None and latest is not None and _subset(entries, L.files(latest.id)):
            same = latest
        if same is not None:
            self._same_again(same, ready, entries)
            return
        version, carried = 1, []
        if latest is not None:
            version = latest.version + 1
            carried = self._carry_over(latest, entries)
            if carried:
                merged = entries + carried
                chash = content_hash((e.sop_uid, e.sha256) for e in merged)
                same = L.find_version(ready.series_uid, chash)
                if same is not None:
                    self._same_again(same, ready, entries)
                    return
                entries = merged
        error = ready.error
        job = L.create(series_uid=ready.series_uid, study_uid=ready.study_uid, accession=ready.accession,
                       files=entries, chash=chash, version=version,
                       note=f"{len(carried)} instance(s) carried over from job {latest.id}" if carried else None,
                       error_code=error.code if error else None, error_message=error.message if error else None)
        present = self.files.gather(job.id, entries)
        if not present:
            L.transition(job.id, (RECEIVED,), FAILED, error_code=ErrorCode.INPUT_NOT_FOUND,
                         error_message="every input file vanished before it could be taken in.")
            return
        self._after_receive(L.get(job.id))

    def _after_receive(self, job: Job) -> None:
        """received -> queued, or straight to rejected/duplicate (also used by recovery)."""
        if job.duplicate_of is not None:
            self._dispose(self.ledger.transition(job.id, (RECEIVED,), DUPLICATE))
        elif job.error_code is not None:
            self._dispose(self.ledger.transition(job.id, (RECEIVED,), REJECTED))
        else:
            self.ledger.transition(job.id, (RECEIVED,), QUEUED)

    def _same_again(self, same: Job, ready: Ready, entries: list[FileEntry]) -> None:
        """Content already known: record the drop as a duplicate; a failed job is retried."""
        L = self.ledger
        dup = L.create(series_uid=ready.series_uid, study_uid=ready.study_uid, accession=ready.accession,
                       files=entries, chash=content_hash((e.sop_uid, e.sha256) for e in entries),
                       duplicate_of=same.id, version=same.version)
        self.files.gather(dup.id, entries)
        if same.state == FAILED:
            if not self.files.reclaim(same):  # its inputs are gone: use the ones just dropped
                wanted = {(f.sop_uid, f.sha256): f for f in L.files(same.id)}
                again = [FileEntry(w.seq, w.sop_uid, w.sha256, str(self.files.job_dir(dup.id) / e.name), w.name)
                         for e in entries if (w := wanted.get((e.sop_uid, e.sha256)))]
                self.files.gather(same.id, again)
            L.transition(same.id, (FAILED,), QUEUED, note=f"dropped again (job {dup.id}): retry",
                         attempts=0, error_code=None, error_message=None, inputs_location=None)
        self._after_receive(L.get(dup.id))

    def _carry_over(self, latest: Job, entries: list[FileEntry]) -> list[FileEntry]:
        """Instances of the previous version that the new drop does not replace."""
        where = self.files.location(latest)
        if where is None:
            log.warning("series %s: the inputs of version %d were deleted; version %d holds only the new files",
                        latest.series_uid, latest.version, latest.version + 1)
            return []
        have = {e.sop_uid for e in entries}
        n = len(entries)
        out = []
        for f in self.ledger.files(latest.id):
            if f.sop_uid in have or not (where / f.name).is_file():
                continue
            out.append(FileEntry(n, f.sop_uid, f.sha256, str(where / f.name), entry_name(n, f.sop_uid)))
            n += 1
        return out

    # -- running --------------------------------------------------------------------------
    def _dispatch(self) -> None:
        L = self.ledger
        for worker in self.pool.idle():
            job = L.next_queued(exclude=self.pool.busy)
            if job is None:
                return
            if job.attempts >= self.max_attempts:
                self._finish_failed(job, ErrorCode.WORKER_CRASHED,
                                    f"gave up after {job.attempts} attempt(s): {job.last_error or 'interrupted'}.",
                                    from_state=QUEUED)
                continue
            job = L.start(job.id)
            self.pool.submit(worker, job.id, self.files.inputs(job.id, L.files(job.id)), self.output)

    def _handle(self, ev: Event) -> None:
        if ev.kind == EventKind.READY:
            return
        if ev.kind == EventKind.INIT_FAILED:
            self.fatal = f"[{ev.code}] {ev.message}"
            log.error("workers cannot start: %s; stopping (queued jobs are kept)", self.fatal)
            self.pool.closing = True
            self.request_stop()
            return
        if ev.kind == EventKind.STAGE:
            if ev.job_id in self.pool.busy:
                self.stages.record(ev.job_id, ev.message or "", self.wall())
            return
        self.stages.remove(ev.job_id)
        job = self.ledger.get(ev.job_id)
        if ev.rss_mb is not None:
            self.peak_rss_mb[ev.worker_pid] = max(self.peak_rss_mb.get(ev.worker_pid, 0.0), ev.rss_mb)
        if ev.kind == EventKind.CRASHED:
            if job.attempts < self.max_attempts:
                self.ledger.transition(job.id, (RUNNING,), QUEUED, note=f"retry: {ev.message}",
                                       last_error=ev.message)
            else:
                self._finish_failed(job, ev.code, f"{ev.message}; gave up after {job.attempts} attempt(s).")
        elif ev.kind == EventKind.ERROR:
            self._finish_failed(job, ev.code, ev.message)
        else:
            self._finish(job, ev.results)

    def _finish(self, job: Job, results: list[dict[str, Any]]) -> None:
        statuses = [r.get("status") for r in results]
        bad = next((r for r in results if r.get("status") == "failed"), None) or \
            next((r for r in results if r.get("status") == "rejected"), None)
        if not results:
            return self._finish_failed(job, ErrorCode.INTERNAL_ERROR, "the pipeline returned no result.")
        outputs = [o for r in results for o in (r.get("outputs") or [])]
        if bad is None:
            job = self.ledger.transition(job.id, (RUNNING,), DONE, outputs=outputs)
            self._dispose(job)
            self._enqueue(job)
            return
        err = bad.get("error") or SpectSSPError(ErrorCode.INTERNAL_ERROR, "no error given").as_dict()
        state = FAILED if "failed" in statuses else REJECTED
        job = self.ledger.transition(job.id, (RUNNING,), state, outputs=outputs,
                                     error_code=err.get("code"), error_message=err.get("message"))
        self._dispose(job)

    def _finish_failed(self, job: Job, code: str | None, message: str | None, from_state: str = RUNNING) -> None:
        job = self.ledger.transition(job.id, (from_state,), FAILED, error_code=code or ErrorCode.INTERNAL_ERROR,
                                     error_message=message)
        self._dispose(job)

    def _dispose(self, job: Job) -> None:
        reason = None
        if job.state in (REJECTED, FAILED):
            reason = {
                "job": job.id, "state": job.state, "attempts": job.attempts,
                "error": {"code": job.error_code, "message": job.error_message},
                "series_instance_uid": job.series_uid, "study_instance_uid": job.study_uid,
                "at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.wall())),
                "files": [{"name": f.name, "received_as": f.source, "sop_instance_uid": f.sop_uid,
                           "sha256": f.sha256} for f in self.ledger.files(job.id)],
                "retry": "drop the same files into the watch folder again" if job.state == FAILED else None,
            }
        where = self.files.dispose(job, reason)
        self.ledger.update(job.id, inputs_location=where)

    def _enqueue(self, job: Job) -> None:
        """Hand a done job's DICOM outputs to the outbox, once (the outbox deduplicates by SOP UID)."""
        if self.outbox is not None and job.outputs:
            paths = [Path(o["path"]) for o in job.outputs if o.get("sop_class_uid")]
            for dest in self.cfg.destinations:
                present = [p for p in paths if p.is_file()]
                if len(present) < len(paths):
                    log.warning("%s: %d output file(s) no longer exist (replaced by a newer version?)",
                                job.label, len(paths) - len(present))
                try:
                    self.outbox.enqueue(present, dest)
                except Exception:
                    log.exception("%s: could not queue outputs for %s", job.label, dest.get("name"))
                    return  # stays enqueued=0: retried at the next start
        self.ledger.update(job.id, enqueued=1)


def _subset(entries: list[FileEntry], known: list[FileEntry]) -> bool:
    have = {(f.sop_uid, f.sha256) for f in known}
    return all((e.sop_uid, e.sha256) in have for e in entries)
