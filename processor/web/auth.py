"""Who may see the page: an access token, or HTTP basic with a salted scrypt hash in the config.

No default credential exists. The token is accepted as ``Authorization: Bearer <token>``, as a
``spectssp_token`` cookie, or once as ``?token=...`` (which sets the cookie and redirects to the
same address without it, so it does not stay in the address bar). Passwords are never stored:
``web.password_hash`` is ``scrypt$N$r$p$salt$hash`` (hex), made by ``spectssp serve --hash-password``.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import secrets
import threading

from processor.config import Section
from spectssp.errors import ConfigError

COOKIE = "spectssp_token"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1


def hash_password(password: str, salt: bytes | None = None) -> str:
    """The ``web.password_hash`` value for ``password`` (random 16-byte salt)."""
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def _parse_hash(value: str) -> tuple[int, int, int, bytes, bytes]:
    try:
        kind, n, r, p, salt, digest = value.split("$")
        if kind != "scrypt":
            raise ValueError
        parsed = int(n), int(r), int(p), bytes.fromhex(salt), bytes.fromhex(digest)
        hashlib.scrypt(b"", salt=parsed[3], n=parsed[0], r=parsed[1], p=parsed[2], dklen=len(parsed[4]))
        return parsed
    except ValueError:
        raise ConfigError("setting 'web.password_hash' is not a hash printed by 'spectssp serve "
                          "--hash-password' (scrypt$N$r$p$salt$hash in hex).") from None


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, "localhost")."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Guard:
    """Checks a request's credential against the config (or lets everything in when none is set)."""

    def __init__(self, web: Section) -> None:
        self.token: str | None = web.token
        self.user: str | None = web.user
        self._hash = _parse_hash(web.password_hash) if web.password_hash else None
        self._verified: set[bytes] = set()     # digests of (user, password) pairs already checked:
        self._lock = threading.Lock()          # scrypt costs ~50 ms, too much for every picture

    @property
    def required(self) -> bool:
        return self.token is not None or self._hash is not None

    def check_bind(self, host: str) -> None:
        """Refuse to serve beyond this machine without a credential."""
        if not is_loopback(host) and not self.required:
            raise ConfigError(f"setting 'web.host' is {host!r}, reachable from other machines, but neither "
                              "'web.token' nor 'web.user' + 'web.password_hash' is set: refusing to serve the "
                              "status page without access control.")

    def token_ok(self, candidate: str | None) -> bool:
        return bool(self.token and candidate and hmac.compare_digest(candidate.encode(), self.token.encode()))

    def basic_ok(self, header: str | None) -> bool:
        if self._hash is None or not header or not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        pair = hashlib.sha256(f"{user}\0{password}".encode()).digest()
        with self._lock:
            if pair in self._verified:
                return True
        n, r, p, salt, digest = self._hash
        ok_pw = hmac.compare_digest(hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(digest)),
                                    digest)
        ok = ok_pw and hmac.compare_digest(user.encode(), (self.user or "").encode())
        if ok:
            with self._lock:
                self._verified.add(pair)
        return ok

    def bearer(self, header: str | None) -> str | None:
        if header and header.lower().startswith("bearer "):
            return header[7:].strip()
        return None
