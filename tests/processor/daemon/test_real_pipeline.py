"""``spectssp watch`` end to end with the real pipeline and phantom studies (the issue's must-shows).

Each test runs the real command in a subprocess (inotify, worker processes, signals) with a
short quiet period and rigid+affine registration to stay within the suite's time budget.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from spectssp.errors import ErrorCode
from processor.daemon import DONE, FAILED, REJECTED, RUNNING
from processor.daemon.ledger import Ledger
from processor.daemon.stages import read_stage
from spectssp.fsutil import safe_name
from tests.helpers.dicom import make_series
from tests.helpers.results import load_result
from tests.processor.daemon.realdata import normal_database, site_config, write_studies

pytestmark = pytest.mark.slow
SPECTSSP = str(Path(sys.executable).with_name("spectssp"))


@pytest.fixture(scope="module")
def ndb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return normal_database(tmp_path_factory.mktemp("ndb"))


class Watch:
    """A ``spectssp watch`` process and read-only views of its ledger and folders."""

    def __init__(self, root: Path, cfg: Path) -> None:
        self.root, self.cfg = root, cfg
        self.state, self.incoming, self.output = root / "state", root / "incoming", root / "output"
        self.log = root / "watch.out"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([SPECTSSP, "watch", "--config", str(self.cfg)],
                                     stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        self.wait(lambda: (self.state / "ledger.sqlite").exists(), 60, "the daemon to start")

    def jobs(self) -> list:
        led = Ledger(self.state, readonly=True)
        try:
            return led.jobs()
        finally:
            led.close()

    def wait(self, cond: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"daemon exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; jobs: "
                                     f"{[(j.id, j.state, j.error_code) for j in self.jobs()]}")
            time.sleep(0.25)

    def settled(self, n: int) -> Callable[[], bool]:
        def cond() -> bool:
            jobs = self.jobs()
            return len(jobs) >= n and all(j.state not in ("received", "queued", "running") for j in jobs)
        return cond

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=120)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def status(self) -> dict[str, Any]:
        out = subprocess.run([SPECTSSP, "status", "--json", "--config", str(self.cfg)], capture_output=True,
                             text=True, timeout=60, check=True)
        return json.loads(out.stdout)


@pytest.fixture
def watch(tmp_path: Path, ndb: Path) -> Iterator[Callable[..., Watch]]:
    made: list[Watch] = []

    def make(**daemon: Any) -> Watch:
        w = Watch(tmp_path, site_config(tmp_path, ndb, **daemon))
        made.append(w)
        return w

    yield make
    for w in made:
        w.kill()


def _drop_folder(src: Path, incoming: Path) -> None:
    """Drop a study at once: copy next to the watch folder, then one rename into it."""
    tmp = incoming.parent / f"tmp-{src.name}"
    shutil.copytree(src, tmp)
    os.replace(tmp, incoming / src.name)


def _trickle(studies: list[dict[str, Any]], incoming: Path, pause_s: float, every: int) -> None:
    """Copy slice series file by file, interleaved, pausing ``pause_s`` after every ``every`` files."""
    for s in studies:
        (incoming / s["name"]).mkdir()
    longest = max(len(s["files"]) for s in studies)
    for k in range(longest):
        for s in studies:
            if k < len(s["files"]):
                shutil.copyfile(s["files"][k], incoming / s["name"] / s["files"][k].name)
        if k and k % every == 0:
            time.sleep(pause_s)


@pytest.mark.timeout(900)   # about 3 min on 2 idle cores; several times that when the cores are shared
def test_load_20_studies_processed_exactly_once(tmp_path: Path, watch) -> None:
    specs = [(("NC", "AD", "DLB")[i % 3], i, "slices" if i % 4 == 3 else "multiframe") for i in range(20)]
    studies = write_studies(tmp_path / "src", specs)
    w = watch(workers=2)
    w.start()
    t0 = time.monotonic()
    slices = [s for s in studies if s["layout"] == "slices"]
    for s in studies:
        if s["layout"] == "multiframe":
            _drop_folder(s["dir"], w.incoming)
    _trickle(slices, w.incoming, pause_s=1.0, every=40)   # pauses shorter than the 1.5 s quiet period
    w.wait(w.settled(20), 840, "20 studies to finish")
    elapsed = time.monotonic() - t0
    jobs = w.jobs()
    assert sorted(j.series_uid for j in jobs) == sorted(s["series_uid"] for s in studies)   # one job each
    assert all((j.state, j.version, j.attempts, j.duplicate_of) == (DONE, 1, 1, None) for j in jobs), \
        [(j.id, j.state, j.error_code, j.error_message) for j in jobs if j.state != DONE]
    n_files = {j.series_uid: j.n_files for j in jobs}
    for s in studies:                                   # trickled series were never cut short
        assert n_files[s["series_uid"]] == len(s["files"])
    results = sorted(p.name for p in w.output.iterdir())
    assert results == sorted(safe_name(s["series_uid"]) for s in studies)
    for s in studies:
        r = load_result(w.output / safe_name(s["series_uid"]) / "result.json")
        assert r["status"] == "ok" and len(r["inputs"]) == len(s["files"])
        assert [o for o in r["outputs"] if o["sop_class_uid"]]
    assert sum(len(list((w.state / "archive" / str(j.id)).iterdir())) for j in jobs) == sum(len(s["files"]) for s in studies)
    assert not [p for p in w.incoming.rglob("*") if p.is_file()]
    st = w.status()
    assert st["counts"]["done"] == 20 and st["oldest_waiting"] is None and st["daemon_pid"] == w.proc.pid
    assert w.stop() == 0
    print(f"\n20 studies in {elapsed:.0f} s ({20 / elapsed * 60:.1f} per minute) with 2 workers")


def test_kill_9_mid_job_then_restart_completes_without_duplicates(tmp_path: Path, watch) -> None:
    studies = write_studies(tmp_path / "src", [("NC", 30, "multiframe"), ("AD", 31, "multiframe"),
                                               ("DLB", 32, "slices")])
    w = watch(workers=1)
    w.start()
    for s in studies:
        _drop_folder(s["dir"], w.incoming)
    w.wait(lambda: any(j.state == RUNNING for j in w.jobs()), 120, "a job to run")
    running = next(j for j in w.jobs() if j.state == RUNNING)
    w.wait(lambda: getattr(read_stage(w.state, running.id), "stage", None) == "register", 120,
           "the worker to report registration")                # the pipeline's stages reach the state folder
    time.sleep(2.0)                                         # in the middle of registration
    w.kill()
    assert RUNNING in [j.state for j in w.jobs()]
    w.start()
    w.wait(w.settled(3), 300, "all jobs after the restart")
    assert w.stop() == 0
    jobs = w.jobs()
    assert len(jobs) == 3 and all(j.state == DONE and j.duplicate_of is None for j in jobs)
    assert max(j.attempts for j in jobs) == 2                # the interrupted one ran again
    assert sorted(p.name for p in w.output.iterdir()) == sorted(safe_name(s["series_uid"]) for s in studies)
    assert not list(w.output.glob(".*")) and not list((w.state / "jobs").iterdir())
    assert not [p for p in w.incoming.rglob("*") if p.is_file()]
    assert not list((w.incoming / ".partial").glob("*")) if (w.incoming / ".partial").exists() else True
    assert not list(w.state.glob("running/*"))                 # no stage record outlives its job


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make ``folder`` unwritable even for root (immutable attribute), or skip if impossible here."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)],
                                                             capture_output=True).returncode != 0:
            pytest.skip("cannot make a folder read-only for root here (chattr +i unsupported)")
        undo = ["chattr", "-i", str(folder)]
    else:
        folder.chmod(0o555)
        undo = None
    try:
        yield
    finally:
        if undo:
            subprocess.run(undo, check=True)
        else:
            folder.chmod(0o755)


def test_bad_input_and_read_only_output(tmp_path: Path, watch) -> None:
    a, b, c, trunc = write_studies(tmp_path / "src", [("NC", 40, "multiframe"), ("AD", 41, "slices"),
                                                      ("DLB", 42, "multiframe"), ("NC", 43, "multiframe")])
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "notes.txt").write_text("scanner export log, not an image\n")
    (bad / "Thumbs.db").write_bytes(os.urandom(4096))
    data = trunc["files"][0].read_bytes()
    (bad / "truncated.dcm").write_bytes(data[: len(data) // 2])
    ct = make_series(bad / "ct", 20, modality="CT", series_uid="1.2.840.99.1")
    w = watch(workers=2)
    w.start()
    _drop_folder(bad, w.incoming)
    _drop_folder(b["dir"], w.incoming)
    w.wait(w.settled(5), 200, "bad input and a good study")
    jobs = {j.series_uid: j for j in w.jobs()}
    assert jobs[b["series_uid"]].state == DONE
    assert (jobs[trunc["series_uid"]].state, jobs[trunc["series_uid"]].error_code) == (REJECTED, ErrorCode.UNREADABLE)
    assert (jobs["1.2.840.99.1"].state, jobs["1.2.840.99.1"].error_code) == (REJECTED, ErrorCode.UNSUPPORTED_MODALITY)
    unreadable = [j for j in w.jobs() if j.series_uid is None]
    assert sorted(j.error_code for j in unreadable) == [ErrorCode.NOT_DICOM, ErrorCode.NOT_DICOM]
    for j in w.jobs():
        if j.state == REJECTED:
            reason = json.loads((w.state / "quarantine" / str(j.id) / "reason.json").read_text())
            assert reason["error"]["code"] == j.error_code and reason["error"]["message"]
    quarantined = {f["received_as"] for j in w.jobs() if j.state == REJECTED for f in
                   json.loads((w.state / "quarantine" / str(j.id) / "reason.json").read_text())["files"]}
    assert quarantined == {str(w.incoming / "bad" / n) for n in ("notes.txt", "Thumbs.db", "truncated.dcm")} | \
        {str(w.incoming / "bad" / "ct" / f.name) for f in ct}

    with read_only(w.output):
        _drop_folder(a["dir"], w.incoming)
        w.wait(w.settled(6), 200, "the study written to a read-only folder")
        failed = next(j for j in w.jobs() if j.series_uid == a["series_uid"])
        assert (failed.state, failed.error_code) == (FAILED, ErrorCode.OUTPUT_WRITE_FAILED)
        assert str(w.output) in failed.error_message and "cannot write" in failed.error_message
        assert (w.state / "failed" / str(failed.id) / "reason.json").is_file()
        assert w.proc.poll() is None
        st = w.status()
        assert st["counts"]["failed"] == 1 and st["last_errors"][0]["code"] == ErrorCode.OUTPUT_WRITE_FAILED
    _drop_folder(c["dir"], w.incoming)                     # the daemon goes on serving
    shutil.copytree(a["dir"], w.incoming / "again")        # and a re-drop retries the failed study
    w.wait(lambda: {j.series_uid: j.state for j in w.jobs() if j.duplicate_of is None}.get(c["series_uid"]) == DONE
           and w.settled(8)(), 300, "the next study and the retry")
    states = {j.series_uid: j.state for j in w.jobs() if j.duplicate_of is None}
    assert states[a["series_uid"]] == DONE and states[c["series_uid"]] == DONE
    assert w.stop() == 0
    log_text = "".join(p.read_text() for p in (w.state / "logs").glob("*.log"))
    assert "done" in log_text and "Secret" not in log_text
    for s in (a, b, c):   # patient names never reach the logs
        name = json.loads((tmp_path / "src" / f"{s['name']}.truth.json").read_text())["dicom"]["patient_name"]
        assert name.split("^")[0] not in log_text
