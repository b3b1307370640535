"""Patient data stays out of the logs, the console and the ledger, in every process.

One phantom study with a distinctive patient name and ID, and an invalid patient value that
pydicom reports *with the value* when the outputs copy the patient module (a multi-valued
PatientAge that is not an age string), goes through ``spectssp watch`` (real worker processes,
which read the DICOM) and ``spectssp process``. None of these strings may appear in any log
file, in what either command printed, or in the daemon's ledger (SQLite and its WAL).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pydicom
import pytest
import yaml

from processor.dicom_out.sanitize import sanitize_reference
from processor.phantom import make_study, write_study
from tests.processor.daemon.realdata import normal_database, site_config

pytestmark = pytest.mark.slow
SPECTSSP = str(Path(sys.executable).with_name("spectssp"))

NAME, PATIENT_ID = "Zyxwvut^Privacyname", "PID-Q8Z7X6"
BAD_AGE = r"Y9Q7\Y9Q8"        # AS must be like "072Y": pydicom warns "Invalid value for VR AS: 'Y9Q7'"
SECRETS = ("Zyxwvut", "Privacyname", PATIENT_ID, "Y9Q7")


def _private_study(folder: Path) -> Path:
    files = write_study(make_study("NC", 5, 0), folder / "study", "multiframe")
    for f in files:
        ds = pydicom.dcmread(f)
        ds.PatientName, ds.PatientID = NAME, PATIENT_ID
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # pydicom warns here too; this is the test's own process
            ds.PatientAge = BAD_AGE.split("\\")
        ds.save_as(f)
    return folder / "study"


def _pydicom_reports_the_value(study: Path) -> bool:
    """Guard: pydicom itself still puts such a value in its warning when it is set, so both
    defences matter: the output sanitiser drops it (test_sanitize) and the one logging set-up
    keeps pydicom's records out of logs and console (this test, on code that reaches pydicom)."""
    ds = pydicom.dcmread(next(study.iterdir()), stop_before_pixels=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pydicom.Dataset().PatientAge = list(ds.PatientAge)
    return any("Y9Q7" in str(w.message) for w in caught)


def _leaks(paths: list[Path]) -> list[str]:
    found = []
    for p in paths:
        data = p.read_bytes()
        found += [f"{s!r} in {p}" for s in SECRETS if s.encode() in data]
    return found


def _watch(root: Path, ndb: Path, study: Path) -> list[Path]:
    cfg = site_config(root, ndb, workers=1)
    settings = yaml.safe_load(cfg.read_text())
    settings["registration"]["stages"] = ["rigid"]    # registration quality is not the point here
    cfg.write_text(yaml.safe_dump(settings))
    out, err = root / "watch.stdout", root / "watch.stderr"
    with open(out, "wb") as o, open(err, "wb") as e:
        proc = subprocess.Popen([SPECTSSP, "watch", "--config", str(cfg)], stdout=o, stderr=e)
        try:
            deadline = time.monotonic() + 600
            while not (root / "state" / "ledger.sqlite").exists():
                assert proc.poll() is None and time.monotonic() < deadline, err.read_text()
                time.sleep(0.2)
            shutil.copytree(study, root / "drop")
            os.replace(root / "drop", root / "incoming" / "study")
            while not list((root / "output").glob("*/result.json")):
                assert proc.poll() is None and time.monotonic() < deadline, err.read_text()
                time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=120) == 0, err.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    [result] = list((root / "output").glob("*/result.json"))
    assert '"status": "ok"' in result.read_text() and list(result.parent.glob("dicom/*.dcm"))
    state = root / "state"
    ledger = [p for p in state.iterdir() if p.name.startswith("ledger.sqlite")]   # the db, -wal, -shm
    assert state / "ledger.sqlite" in ledger
    return [out, err, *ledger, *(state / "logs").glob("*.log")]


def _process(root: Path, ndb: Path, study: Path) -> list[Path]:
    cfg = root / "site.yaml"
    cfg.write_text(yaml.safe_dump({"normal_database": str(ndb), "model": None, "outputs": {"png_report": False},
                                   "registration": {"stages": ["rigid"], "threads": 1}}))
    proc = subprocess.run([SPECTSSP, "process", str(study), "--out", str(root / "out"), "--config", str(cfg),
                           "--log-dir", str(root / "logs")], capture_output=True, timeout=600)
    (root / "process.stdout").write_bytes(proc.stdout)
    (root / "process.stderr").write_bytes(proc.stderr)
    assert proc.returncode == 0, proc.stderr.decode()
    assert list((root / "out").glob("*/dicom/*.dcm"))
    return [root / "process.stdout", root / "process.stderr", *(root / "logs").glob("*.log")]


@pytest.mark.timeout(1200)
def test_patient_values_stay_out_of_logs_console_and_ledger(tmp_path: Path) -> None:
    study = _private_study(tmp_path / "src")
    assert _pydicom_reports_the_value(study), "the invalid PatientAge no longer makes pydicom log it: pick another"
    ndb = normal_database(tmp_path / "ndb")
    (tmp_path / "watch").mkdir()
    (tmp_path / "cli").mkdir()
    checked = _watch(tmp_path / "watch", ndb, study) + _process(tmp_path / "cli", ndb, study)
    assert any(p.suffix == ".log" for p in checked)
    assert not _leaks(checked)
