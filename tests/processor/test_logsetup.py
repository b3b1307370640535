"""Log files: a rotated (moved) log file is reopened, so logrotate needs no daemon restart; every
process keeps pydicom's value-bearing warnings out of the log and the console."""
from __future__ import annotations

import logging
import logging.handlers
import os
import warnings

import pytest

from processor.logsetup import NOISY, WORKER_CONSOLE_FORMAT, configure, log_file_handler, setup_process


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


def test_configure_writes_the_run_log_with_the_rotating_handler(tmp_path, clean_root):
    root = logging.getLogger()
    path = configure(0, tmp_path / "logs", ["spectssp", "status"])
    assert path is not None and path.parent == tmp_path / "logs"
    assert any(isinstance(h, logging.handlers.WatchedFileHandler) for h in root.handlers)
    logging.getLogger("spectssp").debug("a debug line")
    for h in root.handlers:
        h.flush()
    assert "a debug line" in path.read_text() and "argv" in path.read_text()


@pytest.fixture
def clean_root():
    """Restore the root logger and the pydicom logger level after a test that configures them."""
    root, pyd = logging.getLogger(), logging.getLogger("pydicom")
    saved = list(root.handlers), root.level, pyd.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
        if h not in saved[0]:
            h.close()
    for h in saved[0]:
        root.addHandler(h)
    root.setLevel(saved[1])
    pyd.setLevel(saved[2])


@pytest.mark.parametrize("who", ["cli", "worker"])
def test_pydicom_value_warnings_reach_neither_log_nor_console(tmp_path, capfd, clean_root, who):
    """pydicom logs and warns invalid values with the value; every process drops both, even when
    pydicom's import (after the set-up) has put its logger back to WARNING."""
    from pydicom import config
    from pydicom.valuerep import validate_value
    with warnings.catch_warnings(record=True) as shown:   # what would be printed on stderr
        warnings.simplefilter("always")
        if who == "cli":
            path = configure(0, tmp_path, ["spectssp", "process"])
        else:
            path = tmp_path / "worker.log"
            assert setup_process(logging.WARNING, path, WORKER_CONSOLE_FORMAT)
        logging.getLogger("pydicom").setLevel(logging.WARNING)      # what importing pydicom does
        validate_value("AS", "Y9Q7", config.WARN)        # pydicom: "Invalid value for VR AS: 'Y9Q7'."
        logging.getLogger("pydicom").error("pydicom error without patient data")
        logging.getLogger("spectssp").warning("our own warning")
        for h in logging.getLogger().handlers:
            h.flush()
    console = capfd.readouterr().err
    text = path.read_text()
    assert "Y9Q7" not in console and "Y9Q7" not in text and not [w for w in shown if "Y9Q7" in str(w.message)]
    assert "pydicom error without patient data" in text and "our own warning" in console + text
    if who == "worker":
        assert f"[worker {os.getpid()}] our own warning" in console


def test_every_process_lowers_the_same_noisy_libraries(tmp_path, clean_root):
    setup_process(logging.WARNING, None, WORKER_CONSOLE_FORMAT)
    assert all(logging.getLogger(n).level == logging.WARNING for n in NOISY)
    assert {"highdicom", "pynetdicom", "PIL"} <= set(NOISY)
    assert logging.getLogger("pydicom").level == logging.ERROR
