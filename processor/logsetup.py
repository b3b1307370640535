"""Logging for the application: console level from -v/-q, and a DEBUG log file per run.

Library modules only call ``logging.getLogger(__name__)``; this is the one place that
configures handlers, for every process: the CLI and the daemon call :func:`configure`, the
worker processes :func:`setup_process` with their own console format. Log lines name studies
by UID or accession, never by patient name.
"""
from __future__ import annotations

import logging
import logging.handlers
import platform
import sys
import time
import warnings
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


CONSOLE_FORMAT = "%(levelname)s %(message)s"
WORKER_CONSOLE_FORMAT = "%(levelname)s [worker %(process)d] %(message)s"
# Libraries whose INFO/DEBUG chatter drowns ours; WARNING and above still reach the log.
NOISY = ("PIL", "matplotlib", "pynetdicom", "watchdog", "h5py", "fsspec", "highdicom")


def setup_process(console_level: int, log_file: Path | str | None = None,
                  console_format: str = CONSOLE_FORMAT) -> bool:
    """The logging of one process (CLI, daemon or worker): console on stderr at ``console_level``,
    DEBUG to ``log_file`` when given, the library levels and the privacy rule below.

    pydicom reports invalid element values *with the value* (which may be patient data), both
    through its logger and as a ``UserWarning`` printed on stderr; below ERROR it is silenced on
    both paths, in every process. Returns whether the log file could be opened.
    """
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    for h in list(root.handlers):
        root.removeHandler(h)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(console_level)
    console.setFormatter(logging.Formatter(console_format))
    handlers: list[logging.Handler] = [console]
    if log_file is not None:
        try:
            handlers.append(log_file_handler(log_file))  # O_APPEND: lines of several processes interleave whole
        except OSError:
            pass
    for h in handlers:
        h.addFilter(_quiet_pydicom)
        root.addHandler(h)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # pydicom sets its logger to WARNING when it is imported, which may come after this call
    # (the CLI imports it lazily): hence the handler filter as well as the level.
    logging.getLogger("pydicom").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"pydicom(\.|$)")
    return len(handlers) > 1


def _quiet_pydicom(record: logging.LogRecord) -> bool:
    """Drop pydicom's records below ERROR, whatever level its logger has meanwhile been set to."""
    return record.levelno >= logging.ERROR or not (record.name == "pydicom" or record.name.startswith("pydicom."))


def configure(verbosity: int, log_dir: Path | None, argv: list[str]) -> Path | None:
    """CLI and daemon: console at WARNING/INFO/DEBUG by ``verbosity`` (-1, 0, >=1) and a new DEBUG
    log file in ``log_dir``; returns its path (None when it cannot be written)."""
    level = {-1: logging.WARNING, 0: logging.INFO}.get(min(verbosity, 1), logging.DEBUG)
    log_path = None
    if log_dir is not None:
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            setup_process(level)
            logging.getLogger(__name__).warning("cannot write a log file in %s (%s)", log_dir, exc.strerror)
        else:
            log_path = log_dir / time.strftime("spectssp-%Y%m%d-%H%M%S.log")
            if not setup_process(level, log_path):
                logging.getLogger(__name__).warning("cannot write a log file in %s", log_dir)
                log_path = None
    else:
        setup_process(level)
    log = logging.getLogger("spectssp")
    log.debug("argv: %s", argv)
    log.debug("spectssp %s, Python %s, %s", __version__, platform.python_version(), platform.platform())
    return log_path
