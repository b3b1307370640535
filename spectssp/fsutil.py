"""Atomic file writes and safe names: nothing half-written, no name taken from input paths."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

_SAFE = re.compile(r"[^0-9A-Za-z._-]")
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def safe_name(uid: str | None, fallback_key: str = "") -> str:
    """A file-system name from a DICOM UID. A valid UID is used as it is; anything else is
    cleaned and gets a short hash of the original, so two malformed UIDs never share a folder.
    Inputs without a UID get a stable hash of ``fallback_key`` instead."""
    if uid:
        raw = uid.strip()
        name = _SAFE.sub("_", raw)[:64].strip("._")
        if name and name == raw:
            return name
        if name:
            return f"{name[:48]}-{hashlib.sha1(raw.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"
    return "unidentified-" + hashlib.sha1(fallback_key.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def file_sha256(path: Path) -> str | None:
    """Content hash of a file, read in 1 MiB blocks; None when it cannot be read (gone, denied)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes, tmp_dir: Path | None = None) -> None:
    """Write ``data`` to a temp file (in ``tmp_dir``, default beside ``path``; it must be on
    the same file system), fsync, and rename it into place: readers never see half a file."""
    atomic_write(path, lambda fh: fh.write(data), tmp_dir)


def atomic_copy(src: Path, path: Path, tmp_dir: Path | None = None) -> None:
    """Copy ``src`` to ``path`` with the same all-or-nothing guarantee."""
    def copy(fh) -> None:
        with open(src, "rb") as inp:
            shutil.copyfileobj(inp, fh)
    atomic_write(path, copy, tmp_dir)


def atomic_write(path: Path, fill: Callable[[BinaryIO], Any], tmp_dir: Path | None = None) -> None:
    """The one atomic writer: ``fill`` writes into a temp file on the same file system, which is
    fsynced, renamed onto ``path``, and the folder entry fsynced too (survives power loss)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir or path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fill(fh)
            fh.flush()
            os.fchmod(fh.fileno(), 0o666 & ~_UMASK)  # mkstemp makes 0600; honour the umask
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable; best effort (not every file system allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):      # numpy scalars
        return o.item()
    if hasattr(o, "tolist"):    # numpy arrays
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def atomic_write_json(path: Path, obj: Any) -> None:
    """Strict JSON (no NaN: a ValueError says which value is broken)."""
    text = json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False, default=_json_default)
    atomic_write_bytes(path, (text + "\n").encode("utf-8"))


def publish_dir(staging: Path, final: Path) -> None:
    """Replace ``final`` by the fully written ``staging`` folder with renames only."""
    if final.exists():
        old = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".old-{final.name}-"))
        os.replace(final, old)  # renaming a folder onto an empty folder replaces it
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, final)
