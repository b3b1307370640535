"""Event sources for the watch folder: inotify (watchdog) in production, anything in tests.

An event only says "look at this path soon"; the assembler decides what it means. Losing an
event is therefore harmless (the periodic rescan finds the file), which is why tests can drive
the daemon with plain ``notify`` calls instead of patching inotify.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Protocol

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

log = logging.getLogger(__name__)

Callback = Callable[[Path], None]


class EventSource(Protocol):
    """Calls ``callback(path)`` from any thread when something changes under the root."""

    def start(self, callback: Callback) -> None: ...

    def stop(self) -> None: ...


class _Handler(FileSystemEventHandler):
    """Passes on the paths of the events that can mean new or changed files."""

    def __init__(self, callback: Callback) -> None:
        super().__init__()
        self.callback = callback

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("created", "modified", "moved", "closed"):
            path = getattr(event, "dest_path", "") or event.src_path
            self.callback(Path(path.decode() if isinstance(path, bytes) else path))


class WatchdogSource:
    """Recursive watchdog observer on ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._observer = None

    def start(self, callback: Callback) -> None:
        self._observer = Observer()
        self._observer.schedule(_Handler(callback), str(self.root), recursive=True)
        self._observer.start()
        log.debug("watching %s", self.root)

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=10)
            self._observer = None


class ManualSource:
    """No watcher: paths arrive only through ``Daemon.notify`` and the periodic rescan.

    For tests and benchmarks that step the daemon themselves and must not depend on inotify.
    """

    def start(self, callback: Callback) -> None:
        """Nothing to start."""

    def stop(self) -> None:
        """Nothing to stop."""
