"""Credentials: none by default on loopback; token (header, cookie, once in the query) or HTTP
basic against a scrypt hash; refused to bind beyond loopback without one; config checks."""
from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from processor.config import from_dict
from processor.web import WebServer, create_app, hash_password
from processor.web.auth import COOKIE, is_loopback
from spectssp.errors import ConfigError
from tests.processor.web.conftest import Site, raw_get

TOKEN = "t0ken-for-the-tests-0123456789"
SPECTSSP = str(Path(sys.executable).with_name("spectssp"))


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_no_credential_on_loopback_means_open(site: Site) -> None:
    assert TestClient(create_app(site.cfg())).get("/").status_code == 200


@pytest.mark.parametrize("path", ["/", "/healthz", "/metrics", "/study/{done}", "/study/{done}/picture/decrease",
                                  "/study/{done}/file/0", "/static/style.css"])
def test_token_required_on_every_route(site: Site, path: str) -> None:
    c = TestClient(create_app(site.cfg(token=TOKEN)))
    path = path.format(**site.keys)
    r = c.get(path)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert c.get(path, headers={"Authorization": "Bearer wrong-token-wrong-token"}).status_code == 401
    assert c.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code in (200, 503)


def test_token_in_the_query_once_sets_a_cookie_and_leaves_the_address(site: Site) -> None:
    c = TestClient(create_app(site.cfg(token=TOKEN)))
    key = site.keys["done"]
    r = c.get(f"/study/{key}?token={TOKEN}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/study/{key}"
    assert f"{COOKIE}=" in r.headers["set-cookie"] and "httponly" in r.headers["set-cookie"].lower()
    assert c.get(f"/study/{key}").status_code == 200                       # the cookie now
    assert TestClient(create_app(site.cfg(token=TOKEN))).get("/?token=wrong-token-wrong-token").status_code == 401


def test_basic_auth_against_the_scrypt_hash(site: Site) -> None:
    h = hash_password("correct horse battery")
    assert h.startswith("scrypt$") and "correct" not in h
    c = TestClient(create_app(site.cfg(user="tech", password_hash=h)))
    r = c.get("/")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    assert c.get("/", headers=_basic("tech", "wrong password")).status_code == 401
    assert c.get("/", headers=_basic("other", "correct horse battery")).status_code == 401
    assert c.get("/", headers={"Authorization": "Basic !!notbase64"}).status_code == 401
    assert c.get("/", headers=_basic("tech", "correct horse battery")).status_code == 200
    assert c.get("/", headers=_basic("tech", "correct horse battery")).status_code == 200    # cached check


@pytest.mark.parametrize("web, sentence", [
    ({"token": "short"}, "at least 16"),
    ({"password_hash": "plain-text-password"}, "--hash-password"),
    ({"user": "tech"}, "go together"),
    ({"user": "a:b", "password_hash": "scrypt$16384$8$1$00$00"}, "without ':'"),
    ({"port": 70000}, "TCP port"),
    ({"refresh_s": 0}, "positive"),
])
def test_bad_web_settings_are_one_sentence(tmp_path: Path, web: dict, sentence: str) -> None:
    with pytest.raises(ConfigError, match=sentence):
        from_dict({"web": web}, base_dir=tmp_path)


def test_loopback_detection() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "localhost", "[::1]"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.5", "example.org", ""))


def test_non_loopback_without_credential_refuses_to_start(site: Site) -> None:
    with pytest.raises(ConfigError, match="refusing to serve"):
        WebServer(site.cfg(host="0.0.0.0", port=0))
    cfg = site.root / "site.yaml"
    cfg.write_text(f"paths: {{state: {site.root / 'state'}, output: {site.root / 'output'}}}\n"
                   "web: {host: 0.0.0.0, port: 0}\n")
    out = subprocess.run([SPECTSSP, "serve", "--config", str(cfg)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "[config_invalid]" in out.stderr and "refusing to serve" in out.stderr


def test_watch_with_an_open_non_loopback_page_refuses_before_the_daemon_starts(site: Site) -> None:
    cfg = site.root / "watch.yaml"
    cfg.write_text(f"paths: {{state: {site.root / 'state2'}, output: {site.root / 'out2'}, incoming: {site.root / 'in2'}}}\n"
                   "web: {enabled: true, host: 0.0.0.0, port: 0}\n")
    out = subprocess.run([SPECTSSP, "watch", "--config", str(cfg)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "refusing to serve" in out.stderr
    assert not (site.root / "state2" / "ledger.sqlite").exists()


def test_non_loopback_with_token_answers_401_without_it(site: Site) -> None:
    server = WebServer(site.cfg(host="0.0.0.0", port=0, token=TOKEN)).start()
    try:
        assert raw_get(server.port, "/")[0] == 401
        assert raw_get(server.port, "/", {"Authorization": f"Bearer {TOKEN}"})[0] == 200
    finally:
        server.stop()


def test_port_in_use_is_one_sentence(site: Site) -> None:
    first = WebServer(site.cfg(port=0))
    try:
        with pytest.raises(ConfigError, match="in use"):
            WebServer(site.cfg(port=first.port))
    finally:
        first.sock.close()


def test_hash_password_command_reads_a_pipe() -> None:
    out = subprocess.run([SPECTSSP, "serve", "--hash-password"], input="a long password\n", capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("scrypt$16384$8$1$") and "long" not in out.stdout
    short = subprocess.run([SPECTSSP, "serve", "--hash-password"], input="short\n", capture_output=True, text=True,
                           timeout=60)
    assert short.returncode == 2 and "at least 8" in short.stderr
