"""SIGTERM and kill -9 against a daemon process (real inotify, real workers, fake processing)."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest
import yaml

from processor.daemon import DONE, RUNNING
from processor.daemon.ledger import Ledger
from tests.helpers.dicom import make_series
from tests.processor.daemon import fakes
from tests.processor.daemon.fakes import calls

REPO = Path(__file__).resolve().parents[3]


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump({
        "paths": {"incoming": "incoming", "output": "output", "state": "state"},
        "intake": {"quiet_period_s": 0.5},
        "daemon": {"workers": 1, "poll_interval_s": 0.1, "max_attempts": 3}}))
    return path


def _start(cfg_path: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.processor.daemon.run_fake_daemon", str(cfg_path)],
                            cwd=REPO, stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _jobs(state: Path) -> list:
    if not (state / "ledger.sqlite").exists():
        return []
    led = Ledger(state, readonly=True)
    try:
        return led.jobs()
    except sqlite3.OperationalError:   # the file is there, its tables not yet (the daemon is starting)
        return []
    finally:
        led.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.fixture
def procs():
    started: list[subprocess.Popen] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)


def test_sigterm_finishes_running_job_takes_no_new_one_and_exits_0(tmp_path: Path, procs) -> None:
    cfg_path = _config(tmp_path)
    state, incoming = tmp_path / "state", tmp_path / "incoming"
    proc = _start(cfg_path, tmp_path / "daemon.log")
    procs.append(proc)
    fakes.script(tmp_path / "output", {"1.2.840.20": fakes.sleep(2)})
    make_series(tmp_path / "src", 2, series_uid="1.2.840.20")
    _wait(lambda: (state / "ledger.sqlite").exists(), 30, "the daemon to start")
    os.replace(tmp_path / "src", incoming / "study")
    _wait(lambda: any(j.state == RUNNING for j in _jobs(state)), 30, "the job to run")
    proc.send_signal(signal.SIGTERM)
    late = make_series(incoming / "late", 2, series_uid="1.2.840.21")
    assert proc.wait(timeout=30) == 0, (tmp_path / "daemon.log").read_text()
    jobs = _jobs(state)
    assert [(j.series_uid, j.state) for j in jobs] == [("1.2.840.20", DONE)]
    assert all(f.exists() for f in late)           # not taken: still waiting for the next start
    assert "stop requested" in (tmp_path / "daemon.log").read_text()


def test_kill_9_mid_job_then_restart_completes_once(tmp_path: Path, procs) -> None:
    cfg_path = _config(tmp_path)
    state, incoming, output = tmp_path / "state", tmp_path / "incoming", tmp_path / "output"
    proc = _start(cfg_path, tmp_path / "daemon.log")
    procs.append(proc)
    fakes.script(output, {"1.2.840.22": fakes.sleep(3)})
    make_series(tmp_path / "src", 2, series_uid="1.2.840.22")
    _wait(lambda: (state / "ledger.sqlite").exists(), 30, "the daemon to start")
    os.replace(tmp_path / "src", incoming / "study")
    _wait(lambda: len(calls(output)) == 1, 30, "the worker to start the job")
    worker = calls(output)[0][2]
    proc.kill()
    proc.wait(timeout=10)
    _wait(lambda: not _alive(worker), 10, "the orphaned worker to die with the daemon")
    assert [j.state for j in _jobs(state)] == [RUNNING]
    proc2 = _start(cfg_path, tmp_path / "daemon.log")
    procs.append(proc2)
    _wait(lambda: [j.state for j in _jobs(state)] == [DONE], 60, "the re-queued job to finish")
    proc2.send_signal(signal.SIGTERM)
    assert proc2.wait(timeout=30) == 0
    [job] = _jobs(state)
    assert job.attempts == 2
    assert len(calls(output)) == 2
    assert [p.name for p in output.iterdir()] == ["1.2.840.22"]      # one result folder, no temporaries
    assert not list((state / "jobs").iterdir())
    assert not [p for p in incoming.rglob("*") if p.is_file()]
