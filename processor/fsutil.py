"""Atomic file writes and safe names: nothing half-written, no name taken from input paths."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

_SAFE = re.compile(r"[^0-9A-Za-z._-]")


def safe_name(uid: str | None, fallback_key: str = "") -> str:
    """A file-system name from a DICOM UID (digits and dots only survive); inputs without a
    UID get a stable hash of ``fallback_key`` instead."""
    if uid:
        name = _SAFE.sub("_", uid.strip())[:64].strip("._")
        if name:
            return name
    return "unidentified-" + hashlib.sha1(fallback_key.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def atomic_write_bytes(path: Path, data: bytes, tmp_dir: Path | None = None) -> None:
    """Write ``data`` to a temp file (in ``tmp_dir``, default beside ``path``; it must be on
    the same file system), fsync, and rename it into place: readers never see half a file."""
    _atomic(path, tmp_dir, lambda fh: fh.write(data))


def atomic_copy(src: Path, path: Path, tmp_dir: Path | None = None) -> None:
    """Copy ``src`` to ``path`` with the same all-or-nothing guarantee."""
    def copy(fh) -> None:
        with open(src, "rb") as inp:
            shutil.copyfileobj(inp, fh)
    _atomic(path, tmp_dir, copy)


def _atomic(path: Path, tmp_dir: Path | None, fill) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir or path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fill(fh)
            fh.flush()
            os.fchmod(fh.fileno(), 0o644)  # mkstemp makes 0600; results are meant to be read
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def publish_dir(staging: Path, final: Path) -> None:
    """Replace ``final`` by the fully written ``staging`` folder with renames only."""
    if final.exists():
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, final)
