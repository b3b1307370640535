"""Logging for the application: console level from -v/-q, and a DEBUG log file per run.

Library modules only call ``logging.getLogger(__name__)``; this is the one place that
configures handlers. Log lines name studies by UID or accession, never by patient name.
"""
from __future__ import annotations

import logging
import logging.handlers
import platform
import sys
import time
from pathlib import Path

from spectssp import __version__


FILE_FORMAT = "%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"


def log_file_handler(path: Path | str) -> logging.Handler:
    """A DEBUG handler appending to ``path`` that reopens it when it was moved or deleted, so
    logrotate can rotate a long-running daemon's log (docs/systemd/spectssp.logrotate) without
    a restart; every process (daemon and workers) appends whole lines to the same file."""
    fh = logging.handlers.WatchedFileHandler(path, encoding="utf-8")
    fh.setLevel(logging.DEBUG)
    fh.setFormatter(logging.Formatter(FILE_FORMAT))
    return fh


def configure(verbosity: int, log_dir: Path | None, argv: list[str]) -> Path | None:
    """Console at WARNING/INFO/DEBUG by ``verbosity`` (-1, 0, >=1); DEBUG file in ``log_dir``."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    for h in list(root.handlers):
        root.removeHandler(h)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel({-1: logging.WARNING, 0: logging.INFO}.get(min(verbosity, 1), logging.DEBUG))
    console.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root.addHandler(console)
    for noisy in ("PIL", "matplotlib", "pynetdicom", "watchdog", "h5py", "fsspec", "highdicom"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # pydicom logs offending element values (which may be patient data) when it meets
    # invalid ones; keep those out of the log files.
    logging.getLogger("pydicom").setLevel(logging.ERROR)
    log_path = None
    if log_dir is not None:
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            log_path = log_dir / time.strftime("spectssp-%Y%m%d-%H%M%S.log")
            fh = log_file_handler(log_path)
        except OSError as exc:
            logging.getLogger(__name__).warning("cannot write a log file in %s (%s)", log_dir, exc.strerror)
            log_path = None
        else:
            root.addHandler(fh)
    log = logging.getLogger("spectssp")
    log.debug("argv: %s", argv)
    log.debug("spectssp %s, Python %s, %s", __version__, platform.python_version(), platform.platform())
    return log_path
