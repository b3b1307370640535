"""``spectssp serve`` alone: serves the state of a stopped daemon, stops cleanly on SIGTERM."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.processor.web.conftest import Site, raw_get

SPECTSSP = str(Path(sys.executable).with_name("spectssp"))


def test_serve_answers_then_stops_on_sigterm(site: Site) -> None:
    cfg = site.root / "site.yaml"
    cfg.write_text(f"paths: {{state: {site.root / 'state'}, output: {site.root / 'output'}, "
                   f"incoming: {site.root / 'incoming'}}}\nweb: {{port: 0}}\n")
    log = site.root / "serve.out"
    proc = subprocess.Popen([SPECTSSP, "serve", "--config", str(cfg)], stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not (m := re.search(r"status page at http://127\.0\.0\.1:(\d+)/", log.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        port = int(m.group(1))
        status, body = raw_get(port, "/healthz")
        assert status == 503 and b'"daemon_alive":false' in body and b'"queue_depth":2' in body
        status, body = raw_get(port, f"/study/{site.keys['done']}")
        assert status == 200 and b"parietal_L" in body
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
    assert rc == 0, log.read_text()
