"""Log files: a rotated (moved) log file is reopened, so logrotate needs no daemon restart."""
from __future__ import annotations

import logging
import logging.handlers

from processor.logsetup import configure, log_file_handler


def test_rotated_log_file_is_reopened(tmp_path):
    log = logging.getLogger("spectssp.test_rotation")
    handler = log_file_handler(tmp_path / "run.log")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        log.info("before rotation")
        (tmp_path / "run.log").rename(tmp_path / "run.log.1")      # what logrotate does
        log.info("after rotation")
    finally:
        log.removeHandler(handler)
        handler.close()
    assert "before rotation" in (tmp_path / "run.log.1").read_text()
    fresh = (tmp_path / "run.log").read_text()
    assert "after rotation" in fresh and "before rotation" not in fresh


def test_configure_writes_the_run_log_with_the_rotating_handler(tmp_path):
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    try:
        path = configure(0, tmp_path / "logs", ["spectssp", "status"])
        assert path is not None and path.parent == tmp_path / "logs"
        assert any(isinstance(h, logging.handlers.WatchedFileHandler) for h in root.handlers)
        logging.getLogger("spectssp").debug("a debug line")
        for h in root.handlers:
            h.flush()
        assert "a debug line" in path.read_text() and "argv" in path.read_text()
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
            if h not in saved[0]:
                h.close()
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
