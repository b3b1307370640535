"""Durable delivery: retries with backoff while the peer is down, exactly one arrival."""
from __future__ import annotations

from pathlib import Path

import pydicom

from processor.net.outbox import DELIVERED, FAILED, PENDING, Destination, Outbox
from processor.net.scp import start_scp
from processor.net.scu import send_files
from tests.helpers.orthanc import free_port


class Clock:
    """A manual clock: tests move time, nothing sleeps."""

    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


class CountingSender:
    """Wraps send_files and records how many files each call tried."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, paths, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.calls.append(len(paths))
        return send_files(paths, *args, **kwargs)


def _open(state: Path, clock: Clock, sender: CountingSender, max_attempts: int = 0) -> Outbox:
    return Outbox(state, retry_initial_s=5, retry_max_s=20, max_attempts=max_attempts, timeout_s=5,
                  calling_aet="SPECTSSP", clock=clock, sender=sender)


def test_down_then_up_delivers_exactly_once_and_survives_reopen(tmp_path: Path, outputs) -> None:  # type: ignore[no-untyped-def]
    _, paths = outputs
    port = free_port()
    dest = Destination("pacs", "TESTSCP", "127.0.0.1", port)
    clock, sender = Clock(), CountingSender()
    box = _open(tmp_path / "state", clock, sender)
    assert box.enqueue(paths, dest) == 2
    assert box.enqueue(paths, dest) == 0  # same instances: not queued twice
    for p in paths:
        p.unlink()  # the outbox holds its own copies
    assert box.deliver_due() == {"delivered": 0, "retry": 2, "failed": 0}
    items = box.items()
    assert [i["attempts"] for i in items] == [1, 1]
    assert all(i["next_due"] == clock.t + 5 and "TESTSCP@127.0.0.1" in i["last_error"] for i in items)
    clock.t += 4
    assert box.deliver_due() == {"delivered": 0, "retry": 0, "failed": 0}  # not due yet
    clock.t += 1
    assert box.deliver_due()["retry"] == 2
    assert [i["next_due"] for i in box.items()] == [clock.t + 10] * 2  # backoff doubled
    summary = box.summary()
    assert summary["pacs"][PENDING] == 2 and summary["pacs"]["next_due"] == clock.t + 10
    assert summary["pacs"]["last_error"]
    box.close()

    # restart: a new Outbox on the same state dir resumes; the destination is now up
    received: list[Path] = []
    server = start_scp("TESTSCP", port, tmp_path / "incoming", [],
                       on_received=lambda p, *_: received.append(p))
    try:
        clock.t += 10
        box = _open(tmp_path / "state", clock, sender)
        assert box.deliver_due() == {"delivered": 2, "retry": 0, "failed": 0}
        clock.t += 1000
        assert box.deliver_due() == {"delivered": 0, "retry": 0, "failed": 0}
    finally:
        server.shutdown()
    assert len(received) == 2
    assert sender.calls == [2, 2, 2]  # nothing sent after delivery
    assert {pydicom.dcmread(p).SOPInstanceUID for p in received} == {i["sop_instance_uid"] for i in box.items()}
    assert [i["state"] for i in box.items()] == [DELIVERED, DELIVERED]
    assert not any(Path(i["file"]).exists() for i in box.items())  # copies removed once delivered
    assert box.summary()["pacs"][DELIVERED] == 2 and box.summary()["pacs"][PENDING] == 0
    box.close()


def test_max_attempts_marks_failed_but_keeps_the_file(tmp_path: Path, outputs) -> None:  # type: ignore[no-untyped-def]
    _, paths = outputs
    clock, sender = Clock(), CountingSender()
    with _open(tmp_path / "state", clock, sender, max_attempts=2) as box:
        box.enqueue(paths[:1], {"name": "down", "ae_title": "X", "host": "127.0.0.1", "port": free_port()})
        assert box.deliver_due()["retry"] == 1
        clock.t += 100
        assert box.deliver_due()["failed"] == 1
        clock.t += 10_000
        assert box.deliver_due() == {"delivered": 0, "retry": 0, "failed": 0}
        [item] = box.items()
        assert item["state"] == FAILED and Path(item["file"]).exists()
        assert box.summary()["down"][FAILED] == 1


def test_from_config(tmp_path: Path) -> None:
    from processor.config import from_dict
    cfg = from_dict({"paths": {"state": str(tmp_path / "s")}, "delivery": {"retry_initial_s": 2}})
    with Outbox.from_config(cfg) as box:
        assert box.retry_initial_s == 2 and box.calling_aet == "SPECTSSP"
        assert (tmp_path / "s" / "outbox" / "outbox.sqlite").exists()
        assert box.summary() == {}
