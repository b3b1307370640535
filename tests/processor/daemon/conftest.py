"""Fixtures for daemon tests: a config in a temporary folder, a manual clock, a daemon driver."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from processor.config import Section, from_dict
from processor.daemon import Daemon, ManualSource
from tests.processor.daemon.fakes import FACTORY


class FakeClock:
    """Monotonic time that moves only when the test says so."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, s: float) -> None:
        self.t += s


def make_cfg(root: Path, **daemon: Any) -> Section:
    d = {"workers": 1, "max_attempts": 3, "poll_interval_s": 0.05, "rescan_interval_s": 3600.0}
    d.update(daemon)
    return from_dict({"paths": {"incoming": str(root / "incoming"), "output": str(root / "output"),
                                "state": str(root / "state")},
                      "intake": {"quiet_period_s": 10.0}, "daemon": d}, base_dir=root)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cfg(tmp_path: Path) -> Section:
    return make_cfg(tmp_path)


class Driver:
    """Runs an in-process daemon step by step with the fake factory and no inotify."""

    def __init__(self, cfg: Section, clock: FakeClock, **kw: Any) -> None:
        self.cfg, self.clock = cfg, clock
        self.daemon = Daemon(cfg, factory=FACTORY, events=ManualSource(), clock=clock, **kw)
        self.daemon.start()

    def settle(self, until: Callable[[], bool], timeout: float = 30.0, advance: float = 0.0) -> None:
        """Step (advancing the fake clock by ``advance`` each time) until ``until()``."""
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met in {timeout} s; ledger: {self.daemon.ledger.counts()}")
            self.clock.advance(advance)
            self.daemon.step(0.05)

    def drop_quiet(self) -> None:
        """Let the quiet period pass for everything dropped so far and admit it."""
        self.daemon.assembler.scan()
        self.daemon.step(0)
        self.clock.advance(self.cfg.intake.quiet_period_s + 0.1)
        self.daemon.step(0)

    def idle(self) -> bool:
        counts = self.daemon.ledger.counts()
        return not any(counts[s] for s in ("received", "queued", "running"))

    def close(self) -> None:
        self.daemon.close()


@pytest.fixture
def driver(cfg: Section, clock: FakeClock) -> Iterator[Callable[..., Driver]]:
    made: list[Driver] = []

    def make(c: Section | None = None, **kw: Any) -> Driver:
        d = Driver(c or cfg, clock, **kw)
        made.append(d)
        return d

    yield make
    for d in made:
        if d.daemon.ledger is not None:
            d.close()
