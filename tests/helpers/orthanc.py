"""Start and stop a throw-away Orthanc on 127.0.0.1 for integration tests.

Each server gets its own JSON config, storage under a temporary folder and free HTTP/DICOM
ports; it is stopped by PID (SIGTERM, then wait: Orthanc needs about 4 s to exit), so the
ports can be reused by a restart of the same server. Reused by the PACS round-trip test.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ORTHANC = "/usr/sbin/Orthanc"
PYTHON_PLUGIN = "/usr/share/orthanc/plugins/libOrthancPython.so"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class OrthancServer:
    """A running (or stopped) Orthanc; ``start()`` again reuses config, ports and storage."""

    workdir: Path
    http_port: int
    dicom_port: int
    aet: str = "ORTHANC"
    modalities: dict[str, list[Any]] = field(default_factory=dict)
    python_script: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def config_path(self) -> Path:
        return self.workdir / "orthanc.json"

    def write_config(self) -> None:
        storage = self.workdir / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        cfg: dict[str, Any] = {
            "Name": "spectssp-test",
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": self.aet,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomCheckCalledAet": False,
            "DicomAlwaysAllowStore": True,
            "DicomModalities": self.modalities,
            "HttpCompressionEnabled": False,
            "ConcurrentJobs": 1,
            "Plugins": [],
        }
        if self.python_script is not None:
            cfg["Plugins"] = [PYTHON_PLUGIN]
            cfg["PythonScript"] = str(self.python_script)
        self.config_path.write_text(json.dumps(cfg, indent=2), encoding="utf-8")

    def start(self, timeout_s: float = 30.0) -> "OrthancServer":
        """Launch Orthanc and wait until both REST and the DICOM port answer."""
        if self.proc is not None and self.proc.poll() is None:
            return self
        self.write_config()
        log = open(self.workdir / "orthanc.log", "ab")
        try:
            self.proc = subprocess.Popen([ORTHANC, str(self.config_path)], stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.workdir)
        finally:
            log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Orthanc exited with {self.proc.returncode}; see {self.workdir / 'orthanc.log'}")
            if self._rest_ok() and self._dicom_ok():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Orthanc did not answer within {timeout_s} s; see {self.workdir / 'orthanc.log'}")

    def _rest_ok(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/system", timeout=1) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _dicom_ok(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.dicom_port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM by PID and wait for the exit (SIGKILL after ``timeout_s``)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def get(self, path: str) -> Any:
        """GET a REST resource and decode its JSON."""
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return json.loads(r.read().decode("utf-8"))

    def post(self, path: str, body: bytes | str, content_type: str = "application/json") -> Any:
        data = body.encode("utf-8") if isinstance(body, str) else body
        req = urllib.request.Request(self.url + path, data=data, method="POST",
                                     headers={"Content-Type": content_type})
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
        return json.loads(raw.decode("utf-8")) if raw.strip() else None

    def get_bytes(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return r.read()


def start_orthanc(workdir: Path, *, aet: str = "ORTHANC", modalities: dict[str, list[Any]] | None = None,
                  python_script: Path | None = None, timeout_s: float = 30.0) -> OrthancServer:
    """Create a config in ``workdir`` with free ports and start Orthanc (caller stops it).

    ``modalities`` maps a name to ``[AET, host, port]`` (Orthanc's DicomModalities), e.g. our
    SCP for routing; ``python_script`` enables the orthanc-python plugin with that script.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    http_port = free_port()
    dicom_port = free_port()
    while dicom_port == http_port:
        dicom_port = free_port()
    server = OrthancServer(workdir, http_port, dicom_port, aet, dict(modalities or {}), python_script)
    return server.start(timeout_s=timeout_s)
