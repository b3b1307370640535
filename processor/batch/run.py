"""The batch run: a Dask cluster, a bounded window of submitted series, results as they come.

Faults are Dask's: a worker that dies takes its task to another worker (the scheduler's
``allowed-failures``, set to ``daemon.max_attempts - 1`` for the local cluster), and a series
that kills its worker ``daemon.max_attempts`` times ends as ``KilledWorker``, written here as a
``worker_crashed`` result while the others go on. Each result folder is published by rename,
so a task run twice still leaves exactly one. The first Ctrl-C or SIGTERM stops submitting,
cancels the series no worker has started and lets the running ones finish; a second abandons
them (a worker killed mid-series leaves only its hidden staging folder, never a result folder).
"""
from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import dask
from distributed import Client, Future, LocalCluster, as_completed
from distributed.scheduler import KilledWorker
from tqdm import tqdm

from processor.batch.discover import SeriesTask, find_series
from processor.batch.resume import RunKey, is_done, read_result, run_key
from processor.batch.summary import Summary
from processor.batch.task import PIPELINE_FACTORY, process_series
from processor.config import Section, with_threads
from processor.result import Hashes, Result, ResultError, Status
from spectssp.errors import ConfigError, ErrorCode, SpectSSPError
from spectssp.fsutil import atomic_write_json, publish_dir
from spectssp.resources import plan, this_machine

log = logging.getLogger(__name__)


@dataclass
class BatchOptions:
    """What ``spectssp batch`` was asked; ``factory`` and ``on_start`` are for tests."""

    inputs: list[Path]
    out: Path
    cfg: Section
    scheduler: str | None = None      # a running scheduler's address; None: a LocalCluster
    workers: int = 0                  # local worker processes; 0: batch.workers, else the shared rule
    threads_per_worker: int = 0       # threads of each series (registration, torch); 0: the shared rule
    force: bool = False               # redo series whose result is already there
    progress: bool = True
    factory: str = PIPELINE_FACTORY
    on_start: Callable[[Client], None] | None = None   # called once the cluster runs (tests kill a worker)


@dataclass
class BatchReport:
    """What the run did: found, skipped, processed (by status), and whether it was stopped."""

    found: int
    skipped: int
    statuses: Counter = field(default_factory=Counter)           # processed in this run, by status
    skipped_statuses: Counter = field(default_factory=Counter)   # done before (ok or rejected)
    interrupted: bool = False
    dashboard: str | None = None
    workers: int = 0
    threads: int = 0

    @property
    def processed(self) -> int:
        return sum(self.statuses.values())

    @property
    def all_ok(self) -> bool:
        """Every series found has an ok result (processed now or before)."""
        return self.found > 0 and set(self.statuses) | set(self.skipped_statuses) <= {"ok"} and not self.interrupted


class _Stop:
    """SIGINT/SIGTERM while the run is on: the first asks to stop, the second abandons."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "_Stop":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def has_dashboard() -> bool:
    """Dask's dashboard needs bokeh, an optional dependency we do not install."""
    return importlib.util.find_spec("bokeh") is not None


def run_batch(opts: BatchOptions, echo: Callable[[str], None] = print) -> BatchReport:
    """Process every series under ``opts.inputs`` into ``opts.out`` on a Dask cluster."""
    out = Path(opts.out).absolute()
    out.mkdir(parents=True, exist_ok=True)
    key = run_key(opts.cfg)
    tasks = find_series(opts.inputs, out, max_file_mb=opts.cfg.intake.max_file_mb)
    summary = Summary(out / "summary.csv")
    try:
        todo, skipped = [], Counter()
        for t in tasks:
            done = None if opts.force else read_result(out, t)
            if done is not None and is_done(done, t, key):
                summary.add(done, out / t.name)
                skipped[done["status"]] += 1
            else:
                todo.append(t)
        report = BatchReport(found=len(tasks), skipped=len(tasks) - len(todo), skipped_statuses=skipped)
        why = ("--force" if opts.force else
               "already done with the same inputs, settings, normal database and model")
        echo(f"{len(tasks)} series found; {report.skipped} skipped ({why}); {len(todo)} to process")
        if todo:
            _run(opts, out, key, todo, summary, report, echo)
    finally:
        summary.close()
    return report


def _run(opts: BatchOptions, out: Path, key: RunKey, todo: list[SeriesTask], summary: Summary,
         report: BatchReport, echo: Callable[[str], None]) -> None:
    max_attempts = int(opts.cfg.daemon.max_attempts)
    dashboard = has_dashboard()
    cluster = None
    # worker-saturation 1: a worker holds only the series it runs, so its death charges that
    # series alone (with Dask's default of 1.1 a queued innocent one was charged too)
    with dask.config.set({"distributed.scheduler.allowed-failures": max_attempts - 1,
                          "distributed.scheduler.worker-saturation": 1.0}):
        if opts.scheduler:
            try:
                client = Client(opts.scheduler, timeout=30)
            except (OSError, TimeoutError, ValueError) as exc:
                raise ConfigError(f"cannot reach the Dask scheduler at {opts.scheduler!r} ({exc}); start one with "
                                  "'dask scheduler' and give the address it prints.") from None
            cfg = with_threads(opts.cfg, opts.threads_per_worker) if opts.threads_per_worker else opts.cfg
            report.threads = cfg.registration.threads   # 0: each worker's share of its machine
        else:
            sizing = plan(this_machine(), tasks=opts.workers or opts.cfg.batch.workers,
                          threads=opts.threads_per_worker or opts.cfg.registration.threads)
            cfg = with_threads(opts.cfg, sizing.threads)
            report.threads = sizing.threads
            # one task at a time per worker process: a pipeline is not shared between threads
            cluster = LocalCluster(n_workers=sizing.tasks, threads_per_worker=1, processes=True,
                                   dashboard_address=":0", scheduler_port=0)
            client = Client(cluster)
    try:
        report.workers = len(client.nthreads())
        report.dashboard = client.dashboard_link if dashboard else None
        echo(f"{'scheduler ' + opts.scheduler if opts.scheduler else 'local cluster'}: {report.workers} worker(s), "
             f"{report.threads or 'per-machine'} thread(s) per series; "
             + (f"dashboard {report.dashboard}" if report.dashboard else "no dashboard (bokeh is not installed)"))
        if opts.on_start is not None:
            opts.on_start(client)
        _submit_all(client, opts, cfg, out, key, todo, summary, report, max_attempts)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    if cluster is not None or not report.interrupted:   # else a remote worker may still be writing
        _remove_staging(out, todo)


def _submit_all(client: Client, opts: BatchOptions, cfg: Section, out: Path, key: RunKey, todo: list[SeriesTask],
                summary: Summary, report: BatchReport, max_attempts: int) -> None:
    """Keep a window of series submitted (twice the worker slots), more as each one ends."""
    window = max(4, 2 * sum(client.nthreads().values()))
    queue = iter(todo)
    running: dict[Future, SeriesTask] = {}
    ac = as_completed()
    run_id = uuid.uuid4().hex[:8]

    def submit_next() -> None:
        t = next(queue, None)
        if t is not None:
            f = client.submit(process_series, opts.factory, cfg, list(t.files), str(out),
                              key=f"series-{t.name}-{run_id}", pure=False)
            running[f] = t
            ac.add(f)

    for _ in range(window):
        submit_next()
    bar = tqdm(total=len(todo), desc="series", unit="series", disable=not opts.progress)
    stop_handled = False
    try:
        with _Stop() as stop:
            while running:
                if stop.requested and not stop_handled:
                    stop_handled = report.interrupted = True
                    _cancel_not_started(client, running, bar)
                    continue
                finished = ac.next_batch(block=False)
                if not finished:
                    time.sleep(0.1)
                    continue
                for f in finished:
                    t = running.pop(f, None)
                    if t is None:
                        continue
                    for r in _collect(f, t, out, key, max_attempts):
                        summary.add(r, out / t.name)
                        report.statuses[r["status"]] += 1
                    bar.update()
                    if not stop.requested:
                        submit_next()
    except KeyboardInterrupt:   # the second signal: abandon what still runs
        report.interrupted = True
        client.cancel(list(running))
        bar.write(f"abandoned {len(running)} running series; their result folders were not published")
    finally:
        bar.close()


def _cancel_not_started(client: Client, running: dict[Future, SeriesTask], bar: tqdm) -> None:
    started = {k for keys in client.processing().values() for k in keys}
    waiting = [f for f in running if f.key not in started]
    client.cancel(waiting)
    for f in waiting:
        running.pop(f)
    bar.write(f"stopping: {len(waiting)} series not sent to a worker were cancelled; letting the {len(running)} "
              "series the workers hold finish (Ctrl-C again to abandon them)")


def _collect(f: Future, t: SeriesTask, out: Path, key: RunKey, max_attempts: int) -> list[dict[str, Any]]:
    """The task's results; a worker that kept dying or a task that raised becomes a failed result."""
    try:
        return f.result()
    except KilledWorker:
        return [write_failed(out, t, key, ErrorCode.WORKER_CRASHED,
                             f"the series ended its worker process {max_attempts} times (daemon.max_attempts); "
                             "see the workers' logs")]
    except SpectSSPError as exc:
        return [write_failed(out, t, key, exc.code, exc.message)]
    except Exception as exc:  # noqa: BLE001 - a task's bug becomes that series' result, the run goes on
        log.debug("series %s raised", t.name, exc_info=True)
        return [write_failed(out, t, key, ErrorCode.INTERNAL_ERROR, f"unexpected {type(exc).__name__}: {exc}")]


def write_failed(out: Path, t: SeriesTask, key: RunKey, code: ErrorCode, message: str) -> dict[str, Any]:
    """A failed result.json for a series no worker could finish, staged and published by rename."""
    result = Result(list(t.files), t.study_uid, t.series_uid, Status.FAILED, ResultError(str(code), message),
                    hashes=Hashes(None, key.config, key.normal_database, key.model)).as_dict()
    staging = Path(tempfile.mkdtemp(dir=out, prefix=f".staging-{t.name}-"))
    atomic_write_json(staging / "result.json", result)
    publish_dir(staging, out / t.name)
    return result


def _remove_staging(out: Path, todo: list[SeriesTask]) -> None:
    """Staging folders a killed worker left for this run's series (none of ours writes now)."""
    prefixes = tuple(f".staging-{t.name}-" for t in todo)
    with os.scandir(out) as entries:
        for e in entries:
            if e.name.startswith(prefixes) and e.is_dir(follow_symlinks=False):
                shutil.rmtree(e.path, ignore_errors=True)
