"""Ledger: atomic transitions, versions, recovery and the queries behind ``status``."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from processor.daemon.ledger import (DONE, FAILED, QUEUED, RECEIVED, RUNNING, FileEntry, Ledger,
                                     TransitionError, content_hash)


def _files(n: int = 2) -> list[FileEntry]:
    return [FileEntry(i, f"1.2.{i}", f"{i:064x}", f"/in/{i}", f"{i:05d}_1.2.{i}.dcm") for i in range(n)]


@pytest.fixture
def ledger(tmp_path: Path):
    t = [100.0]
    led = Ledger(tmp_path, clock=lambda: t[0])
    led.tick = t
    yield led
    led.close()


def test_content_hash_ignores_order_but_not_content() -> None:
    a = content_hash([("1.1", "aa"), ("1.2", "bb")])
    assert a == content_hash([("1.2", "bb"), ("1.1", "aa")])
    assert a != content_hash([("1.1", "aa"), ("1.2", "bc")])
    assert a != content_hash([("1.1", "aa")])


def test_lifecycle_records_timings_attempts_and_audit(ledger: Ledger) -> None:
    job = ledger.create(series_uid="1.2.3", study_uid="1.2", accession="A1", files=_files(), chash="h1")
    assert (job.state, job.n_files, job.attempts) == (RECEIVED, 2, 0)
    ledger.transition(job.id, (RECEIVED,), QUEUED)
    ledger.tick[0] = 105.0
    assert ledger.start(job.id).attempts == 1
    ledger.tick[0] = 112.5
    done = ledger.transition(job.id, (RUNNING,), DONE, outputs=[{"kind": "sr", "path": "/o/sr.dcm"}])
    assert (done.created, done.queued_at, done.started_at, done.finished_at) == (100.0, 100.0, 105.0, 112.5)
    assert done.outputs == [{"kind": "sr", "path": "/o/sr.dcm"}]
    assert [h[:2] for h in ledger.history(job.id)] == [(None, RECEIVED), (RECEIVED, QUEUED), (QUEUED, RUNNING),
                                                     (RUNNING, DONE)]
    assert ledger.files(job.id) == _files()


def test_transition_from_wrong_state_changes_nothing(ledger: Ledger) -> None:
    job = ledger.create(series_uid="1.2.3", study_uid=None, accession=None, files=_files(), chash="h1")
    with pytest.raises(TransitionError, match="received, not running"):
        ledger.transition(job.id, (RUNNING,), DONE, error_code="x")
    after = ledger.get(job.id)
    assert (after.state, after.error_code) == (RECEIVED, None)
    assert len(ledger.history(job.id)) == 1


def test_same_version_is_unique_but_duplicates_and_new_versions_are_not(ledger: Ledger) -> None:
    first = ledger.create(series_uid="1.2.3", study_uid=None, accession=None, files=_files(), chash="h1")
    with pytest.raises(sqlite3.IntegrityError):
        ledger.create(series_uid="1.2.3", study_uid=None, accession=None, files=_files(), chash="h1")
    dup = ledger.create(series_uid="1.2.3", study_uid=None, accession=None, files=_files(), chash="h1",
                        duplicate_of=first.id)
    v2 = ledger.create(series_uid="1.2.3", study_uid=None, accession=None, files=_files(3), chash="h2", version=2)
    assert ledger.find_version("1.2.3", "h1").id == first.id
    assert ledger.latest_version("1.2.3").id == v2.id
    assert dup.duplicate_of == first.id
    # unreadable files have no series: their identity is the file hash alone
    ledger.create(series_uid=None, study_uid=None, accession=None, files=_files(1), chash="h1")
    assert ledger.find_version(None, "h1").series_uid is None


def test_recover_requeues_running_jobs_and_survives_reopen(tmp_path: Path) -> None:
    led = Ledger(tmp_path)
    job = led.create(series_uid="1.2.3", study_uid=None, accession=None, files=_files(), chash="h1")
    led.transition(job.id, (RECEIVED,), QUEUED)
    led.start(job.id)
    led.close()                           # as if killed: nothing else was written
    led = Ledger(tmp_path)
    assert [j.id for j in led.recover()] == [job.id]
    again = led.get(job.id)
    assert (again.state, again.attempts) == (QUEUED, 1)
    assert "interrupted" in again.last_error
    assert led.recover() == []
    led.close()


def test_status_queries(ledger: Ledger) -> None:
    a = ledger.create(series_uid="1.1", study_uid=None, accession=None, files=_files(), chash="a")
    ledger.tick[0] = 200.0
    b = ledger.create(series_uid="1.2", study_uid=None, accession=None, files=_files(), chash="b")
    ledger.transition(b.id, (RECEIVED,), QUEUED)
    ledger.transition(a.id, (RECEIVED,), FAILED, error_code="output_write_failed", error_message="read-only")
    assert ledger.counts()[FAILED] == 1 and ledger.counts()[QUEUED] == 1
    assert ledger.oldest_waiting().id == b.id
    errs = ledger.last_errors()
    assert [(j.id, j.error_code) for j in errs] == [(a.id, "output_write_failed")]
    assert ledger.next_queued().id == b.id
    assert ledger.next_queued(exclude=[b.id]) is None


def test_readonly_ledger_cannot_write(tmp_path: Path) -> None:
    Ledger(tmp_path).close()
    ro = Ledger(tmp_path, readonly=True)
    with pytest.raises(sqlite3.OperationalError):
        ro.create(series_uid="1", study_uid=None, accession=None, files=[], chash="x")
    ro.close()


def test_job_states_are_an_enum_whose_stored_values_never_change(tmp_path):
    from processor.daemon.ledger import JobState
    assert [s.value for s in JobState] == ["received", "queued", "running", "done", "rejected", "failed",
                                          "duplicate"]
    import sqlite3
    with sqlite3.connect(tmp_path / "x.sqlite") as db:   # stored as the plain text value
        db.execute("CREATE TABLE t (s TEXT)")
        db.execute("INSERT INTO t VALUES (?)", (JobState.DONE,))
        assert db.execute("SELECT s FROM t").fetchone()[0] == "done"
