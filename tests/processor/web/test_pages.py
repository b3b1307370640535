"""The overview, the study page, its pictures and files, /healthz and /metrics (TestClient)."""
from __future__ import annotations

import fcntl
import io
import json
import os

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from processor.web import create_app
from processor.web.pictures import ID_BOX
from tests.processor.web.conftest import PATIENT_ID, PATIENT_NAME, Site


def _client(site: Site, **web) -> TestClient:
    return TestClient(create_app(site.cfg(**web)))


def test_overview_shows_every_kind_of_job_by_opaque_key_without_identifiers(site: Site) -> None:
    html = _client(site).get("/").text
    for name, key in site.keys.items():
        assert f"/study/{key}" in html, name
    assert 'id="n-rejected"><b>1</b>' in html and 'id="n-failed"><b>1</b>' in html
    assert 'id="n-running"><b>1</b>' in html and 'id="n-waiting"><b>1</b>' in html
    assert 'id="n-done-today"><b>1</b>' in html and 'id="n-quarantine"><b>1</b>' in html   # reason.json not counted
    assert "registration to the template failed quality control." in html           # error sentences
    assert "the worker process died; gave up after 3 attempt(s)." in html
    assert f"/study/{site.keys['done']}/picture/decrease?thumb=1" in html             # a thumbnail, pictures first
    assert "AD 0.81" in html and '<meta http-equiv="refresh" content="5">' in html
    for secret in (PATIENT_NAME, PATIENT_ID, "Privacyname", *site.series.values()):
        assert secret not in html


def test_study_page_shows_pictures_numbers_and_files(site: Site) -> None:
    c = _client(site)
    key = site.keys["done"]
    html = c.get(f"/study/{key}").text
    for name in ("decrease", "increase", "panel"):
        assert f'src="/study/{key}/picture/{name}"' in html
    assert "/picture/qc" not in html                                   # QC passed: no QC picture
    assert "parietal_L" in html and "2.61" in html and "severity" in html and "1.23" in html
    assert "tiny@1" in html and "bundled.ndb" in html and "r = 0.930 (passed" in html
    assert "tracer not stated in the header; assumed IMP" in html
    assert PATIENT_NAME not in html and PATIENT_ID not in html
    result = c.get(f"/study/{key}/file/0")
    assert result.status_code == 200 and json.loads(result.content)["series_instance_uid"] == site.series["done"]
    assert "3D-SSP sheet, decrease (DICOM Secondary Capture)" in html
    dcm = c.get(f"/study/{key}/file/1")
    assert dcm.status_code == 200 and dcm.content[128:132] == b"DICM"
    rejected = c.get(f"/study/{site.keys['rejected']}").text
    assert f'src="/study/{site.keys["rejected"]}/picture/qc"' in rejected and "r = 0.410 (failed" in rejected
    assert c.get(f"/study/{site.keys['rejected']}/picture/qc").headers["content-type"] == "image/png"
    running = c.get(f"/study/{site.keys['running']}").text
    assert "running since" in running and 'http-equiv="refresh"' in running


def _png(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def test_sheet_id_line_hidden_unless_identifiers_are_shown(site: Site) -> None:
    key = site.keys["done"]
    x0, y0, x1, y1 = ID_BOX
    hidden = _png(_client(site).get(f"/study/{key}/picture/decrease").content)
    box = hidden.crop((x0, y0, int(hidden.width * x1), y1))
    assert box.getextrema() == ((0, 0), (0, 0), (0, 0))
    assert hidden.getpixel((500, 300)) == (200, 40, 40)               # the rest untouched
    thumb = _png(_client(site).get(f"/study/{key}/picture/decrease?thumb=1").content)
    assert thumb.width == 480
    c = _client(site, show_patient_identifiers=True)
    shown = _png(c.get(f"/study/{key}/picture/decrease").content)
    assert shown.crop((x0, y0, int(shown.width * x1), y1)).getextrema() != ((0, 0), (0, 0), (0, 0))
    html = c.get(f"/study/{key}").text
    assert PATIENT_NAME in html and PATIENT_ID in html
    overview = c.get("/").text
    assert f"{PATIENT_NAME} (ID {PATIENT_ID})" in overview                  # on the card, to find one's patient
    assert f"/study/{key}" in overview and f"={PATIENT_ID}" not in overview and f"/{PATIENT_ID}" not in overview


@pytest.mark.parametrize("path", ["/study/0123456789abcdef0123", "/study/nothex", "/study/" + "a" * 200,
                                  "/study/{done}/picture/sheet", "/study/{done}/picture/qc",
                                  "/study/{done}/file/2", "/study/{done}/file/-1", "/study/{failed}/file/0",
                                  "/nothing", "/static/other.css"])
def test_unknown_studies_pictures_and_files_are_404(site: Site, path: str) -> None:
    r = _client(site).get(path.format(**site.keys))
    assert r.status_code == 404


def test_healthz_and_metrics(site: Site) -> None:
    c = _client(site)
    r = c.get("/healthz")
    h = r.json()
    assert r.status_code == 503 and h["daemon_alive"] is False               # no daemon holds the state
    assert h["queue_depth"] == 2 and h["oldest_waiting_age_s"] >= 0
    assert h["last_error"]["code"] in ("worker_crashed", "registration_failed")
    assert h["counts"]["done"] == 1
    fd = os.open(site.root / "state" / "daemon.lock", os.O_RDWR | os.O_CREAT)   # a daemon holds it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, f"{os.getpid()}\n".encode())
        r = c.get("/healthz")
        assert r.status_code == 200 and r.json()["daemon_alive"] is True
        m = c.get("/metrics").text
    finally:
        os.close(fd)
    assert "spectssp_daemon_up 1" in m and 'spectssp_jobs{state="done"} 1' in m and "spectssp_queue_depth 2" in m


def test_empty_state_answers(tmp_path) -> None:
    from processor.config import from_dict
    cfg = from_dict({"paths": {"incoming": str(tmp_path / "i"), "output": str(tmp_path / "o"), "state": str(tmp_path / "s")}})
    c = TestClient(create_app(cfg))
    assert "No study has finished yet." in c.get("/").text
    assert c.get("/healthz").json()["queue_depth"] == 0
    assert c.get("/static/style.css").headers["content-type"].startswith("text/css")


def _job_id(site: Site, name: str) -> int:
    from processor.daemon.ledger import Ledger
    from processor.web.state import study_key
    ledger = Ledger(site.root / "state", readonly=True)
    try:
        return next(j.id for j in ledger.jobs() if study_key(j) == site.keys[name])
    finally:
        ledger.close()


def test_running_job_shows_its_stage_and_time_in_it(site: Site) -> None:
    from processor.daemon.stages import StageRecords
    now = 1_800_000_000.0
    c = TestClient(create_app(site.cfg(), clock=lambda: now))
    health = c.get("/healthz").json()
    html = c.get("/").text
    assert 'data-stage=""' in html and "starting" in html                   # running, no stage recorded yet
    records = StageRecords(site.root / "state")
    records.record(_job_id(site, "running"), "register", now - 75)
    records.record(_job_id(site, "done"), "write", now - 5)                   # stale: that job is not running
    html = c.get("/").text
    assert 'data-stage="register">registering <span class="sub">(75 s)</span>' in html
    assert "writing outputs" not in html and html.count('class="stage"') == 1
    running = c.get(f"/study/{site.keys['running']}").text
    assert 'data-stage="register">registering</span> (for 75 s)' in running
    assert 'class="stage"' not in c.get(f"/study/{site.keys['done']}").text
    after = c.get("/healthz").json()                                           # /healthz does not change
    assert {k: v for k, v in after.items() if k != "oldest_waiting_age_s"} == \
        {k: v for k, v in health.items() if k != "oldest_waiting_age_s"}
    records.record(_job_id(site, "running"), "ssp", now - 3)
    assert 'data-stage="ssp">3D-SSP statistics <span class="sub">(3 s)</span>' in c.get("/").text
