"""End to end in a real headless Chromium (Debian's chromium + chromium-driver; Selenium never
downloads a browser or driver): ``spectssp watch`` with the page on, bound to all addresses with
a token, processes three phantoms while the browser watches the overview; a study page's
sheet loads; a request without the token is refused. Screenshots go to the test's tmp folder.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest
import yaml

from tests.processor.daemon.realdata import normal_database, write_studies
from tests.processor.web.conftest import raw_get

pytestmark = [pytest.mark.slow, pytest.mark.integration]
SPECTSSP = str(Path(sys.executable).with_name("spectssp"))
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
TOKEN = "browser-test-token-0123456789"


def _browser():
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed (make installs them as root)")
    os.environ["SE_OFFLINE"] = "true"                   # Selenium Manager must not fetch anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", "--hide-scrollbars"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)


def _config(root: Path, ndb: Path) -> Path:
    cfg = {"paths": {"incoming": str(root / "incoming"), "output": str(root / "output"), "state": str(root / "state")},
           "normal_database": str(ndb), "model": "bundled",
           "intake": {"quiet_period_s": 1.5},
           "registration": {"stages": ["rigid", "affine"], "threads": 1},
           "daemon": {"workers": 1, "poll_interval_s": 0.2},
           "web": {"enabled": True, "host": "0.0.0.0", "port": 0, "token": TOKEN, "refresh_s": 2}}
    path = root / "site.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _wait(cond: Callable[[], object], timeout: float, what: str, proc: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if proc.poll() is not None:
            raise AssertionError(f"daemon exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


SNAPSHOT_JS = """
const q = (s) => document.querySelector(s), n = (s) => parseInt((q(s) || {}).textContent || "0");
if (document.readyState !== "complete" || !q("#recent")) return null;
return {done: document.querySelectorAll("#recent .card.st-done").length,
        busy: n("#n-running b") + n("#n-waiting b"),
        daemon: (q("#daemon b") || {}).textContent,
        thumbnails: document.querySelectorAll("#recent .card img").length,
        links: Array.from(document.querySelectorAll("#recent .card")).map(e => e.getAttribute("href")),
        labels: Array.from(document.querySelectorAll("#recent .card .badge")).map(e => e.textContent.trim()),
        pictures_loaded: Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)};
"""


def _snapshot(browser) -> dict | None:
    """The overview's numbers in one script (one document, even while the page reloads itself)."""
    from selenium.common.exceptions import WebDriverException
    try:
        return browser.execute_script(SNAPSHOT_JS)
    except WebDriverException:          # the page was being replaced by its own refresh
        return None


def _drop(src: Path, incoming: Path) -> None:
    tmp = incoming.parent / f"tmp-{src.name}"
    shutil.copytree(src, tmp)
    os.replace(tmp, incoming / src.name)


@pytest.mark.timeout(900)
def test_browser_watches_three_phantoms_arrive(tmp_path: Path) -> None:
    browser = _browser()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    studies = write_studies(tmp_path / "src", [("NC", 40, "multiframe"), ("AD", 41, "multiframe"),
                                               ("DLB", 42, "multiframe")])
    cfg = _config(tmp_path, normal_database(tmp_path))
    log = tmp_path / "watch.out"
    proc = subprocess.Popen([SPECTSSP, "watch", "--config", str(cfg)], stdout=open(log, "ab"),
                            stderr=subprocess.STDOUT)
    try:
        port = int(_wait(lambda: re.search(r"status page at http://0\.0\.0\.0:(\d+)/", log.read_text()), 120,
                         "the status page", proc, log).group(1))
        # bound to every address with a token: without it, refused (over 127.0.0.1 too)
        assert raw_get(port, "/")[0] == 401 and raw_get(port, "/healthz")[0] == 401
        assert raw_get(port, "/healthz", {"Authorization": f"Bearer {TOKEN}"})[0] in (200, 503)

        browser.get(f"http://127.0.0.1:{port}/?token={TOKEN}")     # sets the cookie, then a clean address
        assert browser.current_url == f"http://127.0.0.1:{port}/" and "spectssp" in browser.title
        browser.save_screenshot(str(shots / "01-empty.png"))

        seen: list[tuple[int, int]] = []                       # (cards done, jobs in progress) per look
        for s in studies:
            _drop(s["dir"], tmp_path / "incoming")

        def look() -> bool:
            """The page reloads itself (web.refresh_s: 2): read it, never reload it here."""
            now = _snapshot(browser)
            if now is None or not now["pictures_loaded"]:
                return False
            if not seen or seen[-1] != (now["done"], now["busy"]):
                seen.append((now["done"], now["busy"]))
                browser.save_screenshot(str(shots / f"02-overview-{len(seen):02d}-done{now['done']}-busy{now['busy']}.png"))
            return now["done"] == 3 and now["busy"] == 0

        _wait(look, 600, "three studies on the overview", proc, log)
        assert any(busy for _, busy in seen) and any(0 < done < 3 for done, _ in seen), seen   # watched them arrive
        browser.set_window_size(1400, 900)
        final = _wait(lambda: (x := _snapshot(browser)) and x["pictures_loaded"] and x, 30, "the overview", proc, log)
        browser.save_screenshot(str(shots / "03-overview-final.png"))
        assert final["daemon"] == "running" and final["thumbnails"] == 3
        assert all(lab in ("AD", "DLB", "NC", "indeterminate") for lab in final["labels"]), final["labels"]

        browser.get(f"http://127.0.0.1:{port}{final['links'][0]}")   # the newest study (ended: no reloads)
        assert re.fullmatch(rf"http://127\.0\.0\.1:{port}/study/[0-9a-f]{{20}}", browser.current_url)
        sheet = browser.find_element("css selector", "#pic-decrease img")
        panel = browser.find_element("css selector", "#pic-panel img")
        _wait(lambda: browser.execute_script("return arguments[0].complete", sheet), 30, "the sheet", proc, log)
        assert browser.execute_script("return arguments[0].naturalWidth", sheet) > 1000
        assert browser.execute_script("return arguments[0].naturalWidth", panel) > 0
        assert browser.find_elements("css selector", "#regions tr") and browser.find_elements("css selector", "#files a")
        browser.set_window_size(1400, 4400)
        browser.save_screenshot(str(shots / "04-study.png"))
        for s in studies:                                     # identifiers stay out of the pages
            assert s["series_uid"] not in browser.page_source
    finally:
        browser.quit()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert proc.returncode == 0, log.read_text()[-3000:]
    logs = [log, *(tmp_path / "state" / "logs").glob("*")]
    assert not [p for p in logs if TOKEN in p.read_text(errors="replace")]      # the token never logged
    print(f"\nscreenshots in {shots}: {sorted(p.name for p in shots.iterdir())}")
