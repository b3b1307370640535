"""The PACS round trip with a real Orthanc on loopback.

A phantom study is stored into Orthanc; an Orthanc Python plugin routes NM instances to our
SCP (`spectssp watch` with the receiver on); we process the series and deliver the SCs and the
SR back; Orthanc's REST API must then show them in the same study, renderable.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pydicom
import pytest
import yaml

from processor.phantom import make_study, write_study
from tests.helpers.orthanc import free_port, start_orthanc
from tests.helpers.tools import require_tool

SC = "1.2.840.10008.5.1.4.1.1.7"
ROUTE = """
import json
import orthanc

def on_stored_instance(dicom, instance_id):
    # Route reconstructed NM (brain SPECT) to spectssp; our own results (SC, SR) stay.
    tags = json.loads(dicom.GetInstanceSimplifiedJson())
    if tags.get("Modality") == "NM":
        orthanc.RestApiPost("/modalities/spectssp/store", instance_id)

orthanc.RegisterOnStoredInstanceCallback(on_stored_instance)
"""


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout_s: float = 60.0) -> None:
    """The daemon's SCP must be listening before Orthanc routes to it (Orthanc does not retry)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"spectssp watch did not open its DICOM port in {timeout_s} s")


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_study_routed_from_orthanc_comes_back_processed(tmp_path):
    require_tool("Orthanc")
    if not Path("/usr/share/orthanc/plugins/libOrthancPython.so").exists():
        require_tool("/usr/share/orthanc/plugins/libOrthancPython.so")
    scp_port = free_port()
    script = tmp_path / "route.py"
    script.write_text(ROUTE)
    orthanc = start_orthanc(tmp_path / "orthanc", modalities={"spectssp": ["SPECTSSP", "127.0.0.1", scp_port]},
                            python_script=script)
    watch = None
    try:
        root = tmp_path / "site"
        cfg = {
            "paths": {"incoming": str(root / "incoming"), "output": str(root / "output"), "state": str(root / "state")},
            "scp": {"enabled": True, "ae_title": "SPECTSSP", "host": "127.0.0.1", "port": scp_port,
                    "allowed_calling_aets": ["ORTHANC"]},
            "destinations": [{"name": "orthanc", "ae_title": "ORTHANC", "host": "127.0.0.1", "port": orthanc.dicom_port}],
            "intake": {"quiet_period_s": 2.0},
            "registration": {"stages": ["rigid", "affine"]},
            "daemon": {"workers": 1, "poll_interval_s": 0.2},
            "delivery": {"retry_initial_s": 1.0},
        }
        cfg_path = tmp_path / "site.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg))
        log = tmp_path / "watch.log"
        with open(log, "wb") as fh:
            watch = subprocess.Popen([sys.executable, "-m", "processor.cli.main", "watch", "--config", str(cfg_path)],
                                     stdout=fh, stderr=subprocess.STDOUT)
        _wait_for_port(scp_port, watch, log)
        study = make_study("AD", 8200)
        files = write_study(study, tmp_path / "study", "multiframe")
        for f in files:
            orthanc.post("/instances", f.read_bytes(), "application/dicom")
        study_uid = str(pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)

        deadline = time.monotonic() + 300
        series = []
        while time.monotonic() < deadline:
            found = orthanc.post("/tools/find", '{"Level": "Series", "Query": {"StudyInstanceUID": "%s"}, "Expand": true}' % study_uid)
            series = found or []
            if len(series) >= 4:
                break
            assert watch.poll() is None, log.read_text(errors="replace")
            time.sleep(1.0)
        assert len(series) == 4, log.read_text(errors="replace")[-2000:] + f"series in the study after routing: {[s['MainDicomTags'].get('Modality') for s in series]}"
        time.sleep(2.0)  # nothing arrives twice: the count stays
        series = orthanc.post("/tools/find", '{"Level": "Series", "Query": {"StudyInstanceUID": "%s"}, "Expand": true}' % study_uid)
        assert len(series) == 4
        sop_classes = []
        for s in series:
            for inst in s["Instances"]:
                tags = orthanc.get(f"/instances/{inst}/simplified-tags")
                assert tags["StudyInstanceUID"] == study_uid
                sop_classes.append(tags["SOPClassUID"])
                if tags["SOPClassUID"] == SC:
                    png = orthanc.get_bytes(f"/instances/{inst}/preview")
                    assert png[:8] == b"\x89PNG\r\n\x1a\n"
                    assert "RESEARCH" in tags.get("ImageComments", "") or "RESEARCH" in tags.get("SeriesDescription", "")
        assert sop_classes.count(SC) == 3                       # decrease sheet, increase sheet, CNN views
        assert any(c.startswith("1.2.840.10008.5.1.4.1.1.88.") for c in sop_classes)  # the SR
        assert sop_classes.count("1.2.840.10008.5.1.4.1.1.20") == 1  # the source NM
        # SIGTERM: the daemon finishes and exits 0
        os.kill(watch.pid, signal.SIGTERM)
        assert watch.wait(timeout=60) == 0
    finally:
        try:
            if watch is not None and watch.poll() is None:
                os.kill(watch.pid, signal.SIGKILL)
                watch.wait(timeout=30)
        finally:
            orthanc.stop()
