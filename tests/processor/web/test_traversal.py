"""Paths never come from the request: traversal attempts, plain, %-encoded, double-encoded and
absolute, get 404 from the real server (raw request lines, as a browser would not send them)."""
from __future__ import annotations

from typing import Iterator

import pytest

from processor.web import WebServer
from tests.processor.web.conftest import Site, build_site, raw_get

ATTEMPTS = [
    "/../secret.txt", "/../../etc/passwd", "/%2e%2e/secret.txt", "/%2e%2e%2fsecret.txt", "/..%2f..%2fetc%2fpasswd",
    "/%252e%252e%252fsecret.txt", "//etc/passwd", "/etc/passwd", "/static/../secret.txt", "/static/..%2f..%2fsecret.txt",
    "/static/%2fetc%2fpasswd", "/study/../../secret.txt", "/study/..%2f..%2fsecret.txt", "/study/%2Fetc%2Fpasswd",
    "/study/{done}/../../secret.txt", "/study/{done}/file/..%2f..%2fsecret.txt", "/study/{done}/file/%2fetc%2fpasswd",
    "/study/{done}/file/0%2f..%2f..%2fsecret.txt", "/study/{done}/picture/..%2f..%2fsecret.txt",
    "/study/{done}/picture/%2fetc%2fpasswd", "/study/{done}/picture/decrease%00.png",
    "/study/{done}%2f..%2f..%2fsecret.txt/file/0",
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, int]]:
    site = build_site(tmp_path_factory.mktemp("site"))
    server = WebServer(site.cfg(port=0)).start()
    try:
        yield site, server.port
    finally:
        server.stop()


@pytest.mark.parametrize("path", ATTEMPTS)
def test_traversal_attempts_are_404(served: tuple[Site, int], path: str) -> None:
    site, port = served
    status, body = raw_get(port, path.format(**site.keys))
    assert status == 404, (path, status, body[:200])
    assert b"root:" not in body and b"secret-outside" not in body


def test_the_real_addresses_answer(served: tuple[Site, int]) -> None:
    site, port = served
    key = site.keys["done"]
    for path in ("/", f"/study/{key}", f"/study/{key}/picture/decrease", f"/study/{key}/file/0", "/static/style.css"):
        assert raw_get(port, path)[0] == 200, path
