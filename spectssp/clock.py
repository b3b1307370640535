"""Seconds per named part of a piece of work (the benchmark prints them)."""
from __future__ import annotations

import time


class PartClock:
    """Laps by name: each :meth:`lap` charges the time since the last one to ``part``."""

    def __init__(self) -> None:
        self.s: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, part: str) -> None:
        now = time.perf_counter()
        self.s[part] = round(self.s.get(part, 0.0) + now - self._t, 4)
        self._t = now
