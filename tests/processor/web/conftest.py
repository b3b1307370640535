"""A daemon state written directly (ledger rows, result folders), so the page is tested in
milliseconds on every kind of job: done with pictures, rejected with a QC picture, failed,
running and queued."""
from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw

from processor.config import Section, from_dict
from processor.daemon.ledger import DONE, FAILED, QUEUED, RECEIVED, REJECTED, RUNNING, FileEntry, Ledger, content_hash
from processor.web.state import study_key
from spectssp.fsutil import safe_name
from tests.helpers.dicom import make_series

PATIENT_NAME, PATIENT_ID = "Zyxwvut^Privacyname", "PID-Q8Z7X6"
SHEET_ID_TEXT = f"ID: {PATIENT_ID}"


@dataclass
class Site:
    root: Path
    cfg_data: dict[str, Any]
    keys: dict[str, str]          # "done", "rejected", "failed", "running", "queued" -> study key
    series: dict[str, str]        # same -> series UID

    def cfg(self, **web: Any) -> Section:
        data = json.loads(json.dumps(self.cfg_data))
        data["web"] = {**data.get("web", {}), **web}
        return from_dict(data, base_dir=self.root)


def _sheet(path: Path, colour: tuple[int, int, int]) -> None:
    """A picture shaped like a sheet: header text where the real sheet has the patient ID."""
    img = Image.new("RGB", (1000, 600), (0, 0, 0))
    d = ImageDraw.Draw(img)
    d.text((16, 10), "3D-SSP  Z-score  Decrease", fill=(255, 255, 255))
    d.text((16, 52), f"{SHEET_ID_TEXT}    Date: 2025-03-14", fill=(180, 180, 180))
    d.rectangle((100, 150, 900, 500), fill=colour)
    img.save(path)


def _result(series_uid: str, folder: Path, status: str, outputs: list[dict], qc_image: str | None = None,
            error: dict | None = None) -> dict[str, Any]:
    ok = status == "ok"
    return {
        "schema": "spectssp.result/1", "status": status, "error": error, "inputs": ["x.dcm"],
        "study_instance_uid": "1.2.3", "series_instance_uid": series_uid,
        "classification": {"label": "AD", "probabilities": {"AD": 0.81, "DLB": 0.12, "NC": 0.07},
                           "model": "tiny@1"} if ok else None,
        "registration": {"transform": "syn", "qc": 0.93 if ok else 0.41, "passed": ok, "qc_threshold": 0.85,
                         "profile": "spect", "qc_image": qc_image},
        "resolution": None, "reference_regions": ["GLB"],
        "regions": {"parietal_L": {"mean_z": 2.61, "extent_pct": 33.0}, "frontal_L": {"mean_z": 0.4, "extent_pct": 1.0}}
        if ok else {},
        "indices": {"severity": 1.23, "extent": 12.5, "ratio": 1.1, "ciscore": 0.2} if ok else {},
        "outputs": outputs, "warnings": ["tracer not stated in the header; assumed IMP"] if ok else [],
        "timings_s": {"total": 42.0},
        "software": {"name": "spectssp", "version": "0.1.0", "notice": "research use only"},
        "normal_database": {"path": "/x/bundled.ndb", "n": 20, "tracer": "IMP", "sha256": "0123456789abcdef"},
        "note": "research use only", "statistics_reference": "GLB",
    }


def build_site(root: Path) -> Site:
    output, state = root / "output", root / "state"
    for d in (output, state, root / "incoming"):
        d.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(state)
    keys, series = {}, {}
    src = root / "src"
    for n, name in enumerate(("done", "rejected", "failed", "running", "queued")):
        files = make_series(src / name, 1, series_uid=f"1.2.826.0.1.999.{n}")
        uid = f"1.2.826.0.1.999.{n}"
        entries = [FileEntry(0, f"1.2.3.{n}", f"{n:064d}", str(files[0]), "f0.dcm")]
        job = ledger.create(series_uid=uid, study_uid="1.2.3", accession=f"ACC-{name.upper()}", files=entries,
                            chash=content_hash([(e.sop_uid, e.sha256) for e in entries]))
        keys[name], series[name] = study_key(job), uid
        if name == "queued":
            ledger.transition(job.id, (RECEIVED,), QUEUED)
            continue
        ledger.transition(job.id, (RECEIVED,), QUEUED)
        ledger.start(job.id)
        folder = output / safe_name(uid)
        if name == "done":
            folder.mkdir()
            (folder / "dicom").mkdir()
            _sheet(folder / "ssp_decrease.png", (200, 40, 40))
            _sheet(folder / "ssp_increase.png", (40, 40, 200))
            Image.fromarray(np.full((300, 800, 3), 90, np.uint8)).save(folder / "cnn_views.png")
            ds = pydicom.dcmread(files[0])                                 # an output carries the patient module
            ds.PatientName, ds.PatientID = PATIENT_NAME, PATIENT_ID
            ds.save_as(folder / "dicom" / "sc_1.dcm")
            outputs = [{"kind": "report", "path": str(folder / p), "sop_class_uid": None}
                       for p in ("ssp_decrease.png", "ssp_increase.png", "cnn_views.png")]
            outputs.append({"kind": "ssp-sheet", "path": str(folder / "dicom" / "sc_1.dcm"),
                            "sop_class_uid": "1.2.840.10008.5.1.4.1.1.7"})
            (folder / "result.json").write_text(json.dumps(_result(uid, folder, "ok", outputs)))
            ledger.transition(job.id, (RUNNING,), DONE, outputs=outputs)
        elif name == "rejected":
            folder.mkdir()
            Image.fromarray(np.full((200, 600, 3), 120, np.uint8)).save(folder / "registration_qc.png")
            err = {"code": "registration_failed", "message": "registration to the template failed quality control."}
            (folder / "result.json").write_text(json.dumps(
                _result(uid, folder, "rejected", [], qc_image=str(folder / "registration_qc.png"), error=err)))
            ledger.transition(job.id, (RUNNING,), REJECTED, outputs=[], error_code=err["code"],
                              error_message=err["message"])
            (state / "quarantine" / str(job.id)).mkdir(parents=True)
            (state / "quarantine" / str(job.id) / "f0.dcm").write_bytes(b"x")
            (state / "quarantine" / str(job.id) / "reason.json").write_text("{}")
        elif name == "failed":
            ledger.transition(job.id, (RUNNING,), FAILED, error_code="worker_crashed",
                              error_message="the worker process died; gave up after 3 attempt(s).")
    ledger.close()
    (root / "secret.txt").write_text("root:secret-outside-the-output\n")
    cfg = {"paths": {"incoming": str(root / "incoming"), "output": str(output), "state": str(state)},
           "web": {"refresh_s": 5}}
    return Site(root, cfg, keys, series)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return build_site(tmp_path)


def wait_for(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met")
        time.sleep(0.05)


def raw_get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (no client-side normalisation of ``..`` or %-escapes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()
