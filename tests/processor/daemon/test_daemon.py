"""The daemon with real worker processes and a fake (fast) processing function."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pydicom
import pytest

from spectssp.errors import ErrorCode, SpectSSPError
from processor.daemon import DONE, DUPLICATE, FAILED, QUEUED, REJECTED, AlreadyRunning, Daemon, ManualSource
from spectssp.fsutil import safe_name
from tests.helpers.dicom import make_series
from tests.processor.daemon.conftest import make_cfg
from tests.processor.daemon import fakes
from tests.processor.daemon.fakes import FACTORY, calls, result_json


def _incoming(cfg) -> Path:
    return Path(cfg.paths.incoming)


def _state(cfg) -> Path:
    return Path(cfg.paths.state)


def test_series_processed_once_and_inputs_archived(cfg, driver) -> None:
    d = driver()
    files = make_series(_incoming(cfg) / "study1", 3, series_uid="1.2.840.1")
    d.daemon.step(0)
    assert d.daemon.ledger.counts()[QUEUED] == 0          # still inside the quiet period
    d.drop_quiet()
    d.settle(d.idle)
    [job] = d.daemon.ledger.jobs()
    assert (job.state, job.attempts, job.n_files, job.series_uid) == (DONE, 1, 3, "1.2.840.1")
    assert not any(f.exists() for f in files)
    archived = sorted(p.name for p in (_state(cfg) / "archive" / str(job.id)).iterdir())
    entries = d.daemon.ledger.files(job.id)
    assert archived == [e.name for e in entries]
    assert [e.source for e in entries] == [str(f) for f in files]
    for e in entries:   # names come from the SOP Instance UID inside the file, not from the input path
        sop = pydicom.dcmread(_state(cfg) / "archive" / str(job.id) / e.name, stop_before_pixels=True).SOPInstanceUID
        assert e.name.endswith(f"_{safe_name(str(sop))}.dcm")
    assert result_json(cfg, "1.2.840.1")["status"] == "ok"
    assert [c[:2] for c in calls(cfg)] == [("1.2.840.1", 3)]
    assert job.started_at >= job.created and job.finished_at >= job.started_at
    assert [h[1] for h in d.daemon.ledger.history(job.id)] == ["received", "queued", "running", "done"]


def test_same_series_again_is_a_duplicate_and_not_processed(cfg, driver, tmp_path: Path) -> None:
    d = driver()
    src = make_series(tmp_path / "src", 3, series_uid="1.2.840.2")
    for f in src:
        shutil.copy(f, _incoming(cfg) / f.name)
    d.drop_quiet()
    d.settle(d.idle)
    copy = _incoming(cfg) / "again"
    copy.mkdir()
    for f in src:
        shutil.copy(f, copy / f.name)
    d.drop_quiet()
    d.settle(d.idle)
    jobs = d.daemon.ledger.jobs()
    assert [j.state for j in jobs] == [DONE, DUPLICATE]
    assert jobs[1].duplicate_of == jobs[0].id
    assert len(calls(cfg)) == 1
    assert len(list((_state(cfg) / "duplicates" / str(jobs[1].id)).iterdir())) == 3
    assert not list(copy.glob("*"))


def test_changed_series_is_a_new_version_with_earlier_instances_carried(cfg, driver, tmp_path: Path) -> None:
    d = driver()
    sops = ["1.2.3.1", "1.2.3.2", "1.2.3.3"]
    make_series(_incoming(cfg) / "a", 2, series_uid="1.2.840.3", study_uid="1.2.9", sop_uids=sops[:2])
    d.drop_quiet()
    d.settle(d.idle)
    # the third instance arrives later, alone
    make_series(tmp_path / "late", 3, series_uid="1.2.840.3", study_uid="1.2.9", sop_uids=sops)
    os.replace(tmp_path / "late" / "IM0002.dcm", _incoming(cfg) / "IM0002.dcm")
    d.drop_quiet()
    d.settle(d.idle)
    v1, v2 = d.daemon.ledger.jobs()
    assert (v1.version, v2.version, v2.state, v2.n_files) == (1, 2, DONE, 3)
    assert sorted(f.sop_uid for f in d.daemon.ledger.files(v2.id)) == sops
    assert [c[1] for c in calls(cfg)] == [2, 3]
    # version 1's archive is untouched
    assert len(list((_state(cfg) / "archive" / str(v1.id)).iterdir())) == 2


def test_worker_crash_is_retried_and_other_jobs_go_on(tmp_path: Path, clock, driver) -> None:
    cfg = make_cfg(tmp_path, workers=2, max_attempts=2)
    d = driver(cfg)
    fakes.script(cfg, {"1.2.840.4": fakes.CRASH_ONCE, "1.2.840.5": fakes.CRASH})
    make_series(_incoming(cfg) / "c1", 2, series_uid="1.2.840.4")
    make_series(_incoming(cfg) / "c2", 2, series_uid="1.2.840.5")
    make_series(_incoming(cfg) / "ok", 2, series_uid="1.2.840.6")
    d.drop_quiet()
    d.settle(d.idle, timeout=60)
    jobs = {j.series_uid: j for j in d.daemon.ledger.jobs()}
    once, always, fine = jobs["1.2.840.4"], jobs["1.2.840.5"], jobs["1.2.840.6"]
    assert (once.state, once.attempts) == (DONE, 2)
    assert (fine.state, fine.attempts) == (DONE, 1)
    assert (always.state, always.attempts, always.error_code) == (FAILED, 2, ErrorCode.WORKER_CRASHED)
    assert "worker process died (exit code 7)" in always.error_message and "gave up after 2" in always.error_message
    reason = json.loads((_state(cfg) / "failed" / str(always.id) / "reason.json").read_text())
    assert reason["error"]["code"] == ErrorCode.WORKER_CRASHED and len(reason["files"]) == 2
    assert len({pid for _, _, pid in calls(cfg)}) >= 3        # crashed workers were replaced


def test_rejected_and_unreadable_inputs_are_quarantined_with_reasons(cfg, driver) -> None:
    d = driver()
    inc = _incoming(cfg)
    fakes.script(cfg, {"1.2.840.7": fakes.REJECT})
    make_series(inc / "ct", 2, series_uid="1.2.840.7")
    inc.mkdir(exist_ok=True)
    (inc / "readme.txt").write_text("not an image")
    good = make_series(inc / "good", 2, series_uid="1.2.840.8")
    truncated = inc / "good" / "IM0001.dcm"
    truncated.write_bytes(good[1].read_bytes()[:200])   # cut inside the file meta
    d.drop_quiet()
    d.settle(d.idle)
    jobs = d.daemon.ledger.jobs()
    by = {(j.series_uid, j.state) for j in jobs}
    assert ("1.2.840.7", REJECTED) in by and ("1.2.840.8", DONE) in by
    bad_files = [j for j in jobs if j.series_uid is None]
    assert sorted(j.error_code for j in bad_files) == [ErrorCode.NOT_DICOM, ErrorCode.UNREADABLE]
    for j in [j for j in jobs if j.state == REJECTED]:
        folder = _state(cfg) / "quarantine" / str(j.id)
        reason = json.loads((folder / "reason.json").read_text())
        assert reason["error"]["code"] == j.error_code and reason["error"]["message"]
        assert len([p for p in folder.iterdir() if p.name != "reason.json"]) == j.n_files
    received_as = {f["received_as"] for j in bad_files
                   for f in json.loads((_state(cfg) / "quarantine" / str(j.id) / "reason.json").read_text())["files"]}
    assert received_as == {str(inc / "readme.txt"), str(truncated)}
    assert not [p for p in inc.rglob("*") if p.is_file()]


def test_failed_job_dropped_again_is_retried(cfg, driver, tmp_path: Path) -> None:
    d = driver()
    fakes.script(cfg, {"1.2.840.9": fakes.RAISE})
    src = make_series(tmp_path / "src", 2, series_uid="1.2.840.9")
    for f in src:
        shutil.copy(f, tmp_path / f.name)
    _incoming(cfg).mkdir(parents=True, exist_ok=True)
    for f in src:
        shutil.copy(f, _incoming(cfg) / f.name)
    d.drop_quiet()
    d.settle(d.idle)
    [job] = d.daemon.ledger.jobs()
    assert (job.state, job.error_code) == (FAILED, ErrorCode.INTERNAL_ERROR)
    assert "a bug in the pipeline" in job.error_message
    assert (_state(cfg) / "failed" / str(job.id) / "reason.json").is_file()
    for f in src:
        shutil.copy(f, _incoming(cfg) / f.name)
    d.drop_quiet()
    d.settle(d.idle)
    again = d.daemon.ledger.get(job.id)
    assert again.state == FAILED and again.attempts == 1       # ran again (still raises)
    assert len(calls(cfg)) == 2
    assert [h[1] for h in d.daemon.ledger.history(job.id)][-3:] == ["queued", "running", "failed"]
    assert d.daemon.ledger.jobs()[-1].state == DUPLICATE


def test_job_timeout_kills_the_worker(tmp_path: Path, driver) -> None:
    cfg = make_cfg(tmp_path, max_attempts=1, job_timeout_s=0.5)
    d = driver(cfg)
    fakes.script(cfg, {"1.2.840.10": fakes.sleep(30)})
    make_series(_incoming(cfg) / "s", 1, series_uid="1.2.840.10")
    d.drop_quiet()
    d.settle(d.idle, timeout=30)
    [job] = d.daemon.ledger.jobs()
    assert job.state == FAILED and "daemon.job_timeout_s" in job.error_message


class RecordingOutbox:
    """Stands in for the outbox: records what the daemon hands over."""

    def __init__(self) -> None:
        self.queued: list[tuple[list[Path], str]] = []
        self.rounds = 0

    def enqueue(self, files, destination) -> int:
        self.queued.append(([Path(f) for f in files], destination["name"]))
        return len(files)

    def deliver_due(self, now=None) -> dict[str, int]:
        self.rounds += 1
        return {"delivered": 0, "retry": 0, "failed": 0}

    def close(self) -> None:
        pass


def test_dicom_outputs_go_to_every_destination(tmp_path: Path, clock) -> None:
    from processor.config import from_dict
    base = make_cfg(tmp_path)
    cfg = from_dict({**{k: dict(v) for k, v in base.items() if k in ("paths", "intake", "daemon")},
                     "destinations": [{"name": "pacs", "ae_title": "PACS", "host": "127.0.0.1", "port": 104},
                                      {"name": "viewer", "ae_title": "VIEW", "host": "127.0.0.1", "port": 105}]})
    outbox = RecordingOutbox()
    from tests.processor.daemon.conftest import Driver
    d = Driver(cfg, clock, outbox=outbox)
    try:
        make_series(_incoming(cfg) / "s", 2, series_uid="1.2.840.11")
        d.drop_quiet()
        d.settle(lambda: d.idle() and outbox.rounds > 0)
        [job] = d.daemon.ledger.jobs()
        assert job.enqueued == 1
        sr = Path(cfg.paths.output) / "1.2.840.11" / "sr.dcm"
        assert outbox.queued == [([sr], "pacs"), ([sr], "viewer")]   # the PNG (no SOP class) is not sent
    finally:
        d.close()


def test_second_daemon_on_same_state_is_refused(cfg, driver) -> None:
    driver()
    with pytest.raises(AlreadyRunning) as exc:
        Daemon(cfg, factory=FACTORY, events=ManualSource()).start()
    assert isinstance(exc.value, SpectSSPError) and exc.value.code == ErrorCode.ALREADY_RUNNING == "already_running"
    assert not exc.value.code.is_rejection


def test_worker_messages_survive_pickling() -> None:
    """They cross a spawn boundary: each must come back equal, with its enum intact."""
    import pickle
    from processor.daemon.workers import InitFailed, JobDone, JobError, JobRequest, JobStage, WorkerReady
    for msg in (JobRequest(3, ["/a.dcm"], "/out"), WorkerReady(123), InitFailed(ErrorCode.MODEL_ERROR, "no model."),
                JobStage(3, "register"),
                JobDone(3, [{"status": "ok"}], 12.5), JobError(3, ErrorCode.WORKER_CRASHED, "died.", 1.0)):
        back = pickle.loads(pickle.dumps(msg))
        assert back == msg and type(back) is type(msg)
    assert pickle.loads(pickle.dumps(ErrorCode.MODEL_ERROR)) is ErrorCode.MODEL_ERROR


def test_restart_finishes_interrupted_steps(cfg, clock, driver) -> None:
    """A crash between ledger steps: received jobs, running jobs, undisposed folders, outbox hand-over."""
    d = driver()
    make_series(_incoming(cfg) / "s", 2, series_uid="1.2.840.12")
    make_series(_incoming(cfg) / "t", 2, series_uid="1.2.840.13")
    d.drop_quiet()
    L = d.daemon.ledger
    first, second = L.jobs()
    d.close()                                       # both queued; simulate states a kill leaves
    from processor.daemon.ledger import Ledger
    led = Ledger(_state(cfg))
    led.start(first.id)                             # was running when killed
    led.close()
    out = Path(cfg.paths.output)
    (out / ".staging-1.2.840.12-999").mkdir(parents=True)
    d2 = driver()
    d2.settle(d2.idle)
    jobs = d2.daemon.ledger.jobs()
    assert [(j.state, j.attempts) for j in jobs] == [(DONE, 2), (DONE, 1)]
    assert not list(out.glob(".staging-*"))
    assert sorted(p.name for p in out.iterdir()) == ["1.2.840.12", "1.2.840.13"]
    assert not list((_state(cfg) / "jobs").iterdir())


def test_running_job_stage_is_recorded_and_removed_when_the_job_ends(tmp_path: Path, driver) -> None:
    """The worker reports stages over its pipe; the daemon keeps state/running/<id>.json only while
    the job runs, also when its worker dies."""
    from processor.daemon.stages import read_stage
    from processor.daemon.status import format_text, summary
    cfg = make_cfg(tmp_path, max_attempts=1)
    d = driver(cfg)
    fakes.script(cfg, {"1.2.840.30": fakes.sleep(3.0), "1.2.840.31": fakes.CRASH})
    make_series(_incoming(cfg) / "s", 1, series_uid="1.2.840.30")
    d.drop_quiet()
    [job] = d.daemon.ledger.jobs()
    d.settle(lambda: read_stage(_state(cfg), job.id) is not None)
    seen = read_stage(_state(cfg), job.id)
    assert d.daemon.ledger.get(job.id).state == "running"
    assert seen.stage in ("read", "register") and abs(seen.since - time.time()) < 30
    d.settle(lambda: getattr(read_stage(_state(cfg), job.id), "stage", None) == "register")
    s = summary(cfg)                                                   # spectssp status says it too
    assert [(r["job"], r["stage"], r["attempts"]) for r in s["running"]] == [(job.id, "register", 1)]
    assert f"running:  job {job.id} register for " in format_text(s)
    d.settle(d.idle)
    assert d.daemon.ledger.get(job.id).state == DONE
    assert read_stage(_state(cfg), job.id) is None and not any((_state(cfg) / "running").iterdir())
    assert summary(cfg)["running"] == []
    make_series(_incoming(cfg) / "t", 1, series_uid="1.2.840.31")     # its worker dies after "read"
    d.drop_quiet()
    d.settle(d.idle)
    assert d.daemon.ledger.jobs()[-1].state == FAILED
    assert not any((_state(cfg) / "running").iterdir())


def test_stage_records_ignore_bad_names_and_unwritable_folders(tmp_path: Path) -> None:
    from processor.daemon.stages import RunningStage, StageRecords, read_stage
    records = StageRecords(tmp_path)
    records.record(4, "register", 100.0)
    assert read_stage(tmp_path, 4) == RunningStage("register", 100.0)
    records.record(4, "<script>", 101.0)                     # not a stage name: the record stays as it was
    assert read_stage(tmp_path, 4).stage == "register"
    (tmp_path / "running" / "5.json").write_text('{"job": 4, "stage": "ssp", "since": 1}')   # another job's
    (tmp_path / "running" / "6.json").write_text("not json")
    assert read_stage(tmp_path, 5) is None and read_stage(tmp_path, 6) is None and read_stage(tmp_path, 7) is None
    records.remove(4)
    records.remove(4)                                          # twice: no error
    assert read_stage(tmp_path, 4) is None
    blocked = StageRecords(tmp_path / "file")
    (tmp_path / "file").write_text("x")                          # the state "folder" is a file: cannot write
    blocked.record(1, "read", 1.0)                               # logged at debug level, no exception
    blocked.remove(1)
    assert read_stage(tmp_path / "file", 1) is None
