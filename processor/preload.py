"""Loads that only later stages need, run in one background thread while the first study is read.

Why: ``import ants`` (registration), the resolution matcher (SSP) and the model (torch,
torchvision, pytorch_grad_cam: the classify stage) cost 5-30 s of a busy 2-core machine. Paid
before the first study, that is the start-up of ``spectssp process``; started here (at the
pipeline's construction, or, for ``spectssp process``, after the header scan when one series'
headers pass intake's header checks, so a study rejected from its header never pays for them) and awaited by the stage that needs
each, the first study begins at once.

One thread runs the loads in the order submitted (the registration's first), so they never
import the same modules at the same time, and the stage that waits knows what it waits for.
Python's per-module import locks make an import that the main thread starts while this thread
is importing the same module wait for it, not import it twice. A load's exception is kept and
raised again in the thread that asks for its result, where the pipeline turns it into the
error code it has always had. ANTs holds the GIL while it registers (measured: a Python thread
gets no turn during a registration call), so the loads advance in the gaps between the ANTs
calls, not during them: the first study still waits for part of them (``waited_s``).
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

log = logging.getLogger(__name__)


class Preloader:
    """Named loads: started in the background (or run at once when ``background`` is False),
    their results awaited by name."""

    def __init__(self, background: bool = True) -> None:
        self.background = background
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spectssp-preload") if background else None
        self._futures: dict[str, Future] = {}
        self.load_s: dict[str, float] = {}     # how long each load ran
        self.waited_s: dict[str, float] = {}   # how long callers of result() waited for it, summed

    def submit(self, name: str, load: Callable[[], Any]) -> None:
        """Start ``load`` (in the background thread, after the loads submitted before it)."""
        def timed() -> Any:
            t = time.perf_counter()
            try:
                return load()
            finally:
                self.load_s[name] = round(time.perf_counter() - t, 3)
                log.debug("preloaded %s in %.2f s", name, self.load_s[name])
        if self._pool is not None:
            self._futures[name] = self._pool.submit(timed)
            return
        future: Future = Future()
        try:
            future.set_result(timed())
        except Exception as exc:  # kept for result(), as the background thread keeps it
            future.set_exception(exc)
        self._futures[name] = future

    def __contains__(self, name: str) -> bool:
        return name in self._futures

    def result(self, name: str) -> Any:
        """The load's result, waiting for it if needed; its exception if it failed."""
        future = self._futures[name]
        t = time.perf_counter()
        try:
            return future.result()
        finally:
            waited = time.perf_counter() - t
            self.waited_s[name] = round(self.waited_s.get(name, 0.0) + waited, 3)
            if waited > 0.05:
                log.debug("waited %.2f s for %s", waited, name)

    def wait(self, name: str) -> None:
        """Await ``name`` if it was submitted (its exception, if it failed); else nothing."""
        if name in self._futures:
            self.result(name)

    def close(self) -> None:
        """Drop the loads not started yet (the running one finishes: an import cannot be stopped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
