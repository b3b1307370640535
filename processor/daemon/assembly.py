"""Series assembly: files in the watch folder -> complete series after a quiet period.

Files arrive one by one (a PACS push, a technologist copying a folder, the DICOM receiver),
so a series is only handed on once none of its files has changed for ``quiet_s`` seconds.
Each tick stats every tracked file: a change of size or mtime restarts that file's quiet
period, which also covers writers that copy in place without temp files. Headers are read
cheaply (a few tags, no pixel data); a file whose header cannot be read is re-read when it
changes and, once quiet, reported as unreadable so it can be quarantined with a reason.

The clock is injected and events are just hints (``touch``): a periodic ``scan`` finds what
the event source missed, so correctness never depends on inotify delivering every event.
"""
from __future__ import annotations

import logging
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pydicom
from pydicom.errors import InvalidDicomError

from spectssp.errors import ErrorCode, SpectSSPError
from processor.intake.discover import header_text

log = logging.getLogger(__name__)

_TAGS = ["SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID", "AccessionNumber", "SOPClassUID",
         "Modality"]


@dataclass(frozen=True)
class Header:
    """What grouping needs from a file; never the patient's name."""

    series_uid: str
    sop_uid: str | None
    study_uid: str | None
    accession: str | None


class HeaderError(SpectSSPError):
    """The file is not DICOM, or lacks what identifies its series (a rejection code and a sentence)."""


def read_header(path: Path) -> Header:
    """Identity tags of ``path`` without pixel data; raises :class:`HeaderError`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=_TAGS)
        except InvalidDicomError:
            if _has_prefix(path):
                raise HeaderError(ErrorCode.UNREADABLE, "DICOM file is truncated or its header is corrupt.") from None
            try:  # a bare dataset without preamble, as some old systems write it
                ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=_TAGS, force=True)
            except Exception:
                raise HeaderError(ErrorCode.NOT_DICOM, "file is not DICOM (no DICM prefix and no DICOM header).") from None
        except OSError as exc:
            raise HeaderError(ErrorCode.UNREADABLE, f"file cannot be read ({exc.strerror or exc}).") from None
        except Exception as exc:  # pydicom raises many types for corrupt headers
            raise HeaderError(ErrorCode.UNREADABLE, f"DICOM header cannot be parsed ({type(exc).__name__}).") from None

        def text(keyword: str) -> str | None:
            return header_text(ds, keyword)

        series = text("SeriesInstanceUID")
    if series is None:
        if _has_prefix(path):
            raise HeaderError(ErrorCode.UNREADABLE, "DICOM file is truncated or its header lacks a SeriesInstanceUID.")
        if text("SOPClassUID") is None and text("Modality") is None:
            raise HeaderError(ErrorCode.NOT_DICOM, "file is not DICOM (no DICM prefix and no DICOM header).")
        raise HeaderError(ErrorCode.UNREADABLE, "DICOM object has no SeriesInstanceUID.")
    return Header(series, text("SOPInstanceUID"), text("StudyInstanceUID"), text("AccessionNumber"))


def _has_prefix(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


@dataclass
class _Tracked:
    sig: tuple[int, int]
    changed_at: float
    header: Header | None = None
    error: HeaderError | None = None
    read_sig: tuple[int, int] | None = None


@dataclass(frozen=True)
class Ready:
    """A complete series (``error`` None) or one unreadable file (``error`` set)."""

    series_uid: str | None
    study_uid: str | None
    accession: str | None
    files: list[tuple[Path, str | None]]          # (path, SOP Instance UID)
    error: HeaderError | None = None


@dataclass
class Assembler:
    """Tracks files under ``root`` and yields series that have been quiet for ``quiet_s``."""

    root: Path
    quiet_s: float
    clock: Callable[[], float] = time.monotonic
    reader: Callable[[Path], Header] = read_header
    _files: dict[Path, _Tracked] = field(default_factory=dict)
    _dirty: set[Path] = field(default_factory=set)

    def touch(self, path: Path) -> None:
        """Something happened at ``path`` (a file or a folder): look at it next poll."""
        self._dirty.add(Path(path))

    def scan(self) -> None:
        """Look at every file under ``root`` (start-up, and as a safety net for lost events)."""
        self._dirty.add(self.root)

    def forget(self, paths: list[Path]) -> None:
        """Stop tracking files that were moved into a job."""
        for p in paths:
            self._files.pop(p, None)

    @property
    def pending(self) -> int:
        return len(self._files)

    def poll(self) -> list[Ready]:
        """Update from the file system; return what became complete since the last poll."""
        now = self.clock()
        dirty, self._dirty = self._dirty, set()
        for p in dirty:
            for f in self._expand(p):
                self._files.setdefault(f, _Tracked(sig=(-1, -1), changed_at=now))
        for path in list(self._files):
            tr = self._files[path]
            try:
                st = path.stat()
            except OSError:
                del self._files[path]      # moved away or deleted by someone else
                continue
            sig = (st.st_size, st.st_mtime_ns)
            if sig != tr.sig:
                tr.sig, tr.changed_at = sig, now
            if tr.read_sig != sig:
                tr.read_sig = sig
                try:
                    tr.header, tr.error = self.reader(path), None
                except HeaderError as exc:
                    tr.header, tr.error = None, exc
        return self._complete(now)

    def _complete(self, now: float) -> list[Ready]:
        quiet = lambda tr: now - tr.changed_at >= self.quiet_s  # noqa: E731
        busy_dirs = {p.parent for p, tr in self._files.items() if tr.header is None and not quiet(tr)}
        series: dict[str, list[Path]] = {}
        out: list[Ready] = []
        for path, tr in self._files.items():
            if tr.header is not None:
                series.setdefault(tr.header.series_uid, []).append(path)
            elif quiet(tr) and tr.error is not None:
                out.append(Ready(None, None, None, [(path, None)], tr.error))
        for uid, paths in series.items():
            trs = [self._files[p] for p in paths]
            if all(quiet(t) for t in trs) and not any(p.parent in busy_dirs for p in paths):
                first = trs[0].header
                out.append(Ready(uid, first.study_uid, first.accession,
                                 sorted((p, self._files[p].header.sop_uid) for p in paths)))
        for r in out:
            self.forget([p for p, _ in r.files])
        return out

    def _expand(self, p: Path) -> list[Path]:
        """Files at or under ``p`` inside ``root``, skipping dot-names (temp files, .partial)."""
        try:
            rel = p.relative_to(self.root)
        except ValueError:
            return []
        if any(part.startswith(".") for part in rel.parts):
            return []
        if p.is_file() and not p.is_symlink():
            return [p]
        if not p.is_dir():
            return []
        found = []
        for dirpath, dirs, names in os.walk(p, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for n in sorted(names):
                f = Path(dirpath) / n
                if not n.startswith(".") and f.is_file() and not f.is_symlink():
                    found.append(f)
        return found


def remove_empty_dirs(root: Path, min_age_s: float) -> None:
    """Remove empty sub-folders of ``root`` left behind after files moved into jobs.

    Only folders untouched for ``min_age_s`` (wall clock, as mtimes are): a copy that has just
    created its folder must not lose it before the first file lands.
    """
    now = time.time()
    folders = []
    for dirpath, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        d = Path(dirpath)
        if d != root:
            try:
                folders.append((d, d.stat().st_mtime))  # before our own removals touch it
            except OSError:
                pass
    for d, mtime in reversed(folders):
        if now - mtime >= min_age_s:
            try:
                d.rmdir()   # fails (harmlessly) when not empty
            except OSError:
                pass
