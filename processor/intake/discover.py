"""Find candidate files and read their headers without pixel data.

Two passes keep memory bounded: headers of every file first (to group series), pixel data
later, one series at a time. A file that is not DICOM or cannot be parsed becomes a
:class:`FileHeader` with an error, so that it can still be accounted for in the results.
"""
from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from spectssp.errors import ErrorCode
from spectssp.errors import SpectSSPError

log = logging.getLogger(__name__)

# Elements above this size are not read while only the header is wanted (a huge private
# blob or a forged length must not be loaded just to learn the SeriesInstanceUID).
_DEFER_BYTES = 1 << 20


@dataclass
class FileHeader:
    """One input file: its header (no pixel data) or the reason it has none."""

    path: Path
    ds: Dataset | None = None
    error: SpectSSPError | None = None
    forced: bool = False          # read without a Part 10 preamble/meta: decode with force=True
    oversize_mb: float | None = None  # file size when above the limit (the series is rejected)
    notes: list[str] = field(default_factory=list)


def header_text(ds, keyword: str) -> str | None:
    """A header value as stripped text, or None; tolerant of any value a real file may carry
    (a broken element must not stop intake or the daemon)."""
    try:
        value = ds.get(keyword, None)
    except Exception:
        return None
    text = str(value).strip() if value is not None else ""
    return text or None


def find_files(paths: Iterable[Path | str]) -> list[Path]:
    """Every regular file under ``paths`` (recursively), sorted, each once.

    Directory symlinks are not followed, so a link loop cannot hang the walk. A path that
    does not exist is an input error of the caller, raised before anything is read.
    """
    found: dict[str, Path] = {}
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for root, dirs, names in os.walk(p, followlinks=False):
                dirs.sort()
                for name in sorted(names):
                    f = Path(root) / name
                    if f.is_file():
                        found.setdefault(os.path.normpath(os.path.abspath(f)), f)
        elif p.is_file():
            found.setdefault(os.path.normpath(os.path.abspath(p)), p)
        elif p.exists():
            raise SpectSSPError(ErrorCode.INPUT_NOT_FOUND, f"input {str(p)!r} is neither a file nor a folder.")
        else:
            raise SpectSSPError(ErrorCode.INPUT_NOT_FOUND, f"input {str(p)!r} does not exist.")
    return [found[k] for k in sorted(found)]


def _looks_like_dicom(ds: Dataset) -> bool:
    """A forced read parses almost anything: keep it only if it has real DICOM identity."""
    try:
        return bool(ds.get("SOPClassUID")) or bool(ds.get("SeriesInstanceUID") and ds.get("Modality"))
    except Exception:  # garbage that happens to decode into a broken element
        return False


def read_header(path: Path, *, max_file_mb: float) -> FileHeader:
    """Header of ``path`` without pixel data; never raises for bad content."""
    fh = FileHeader(path=path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        fh.error = SpectSSPError(ErrorCode.UNREADABLE, f"file cannot be opened ({exc.strerror}).")
        return fh
    if size == 0:
        fh.error = SpectSSPError(ErrorCode.NOT_DICOM, "file is empty.")
        return fh
    if size > max_file_mb * 1024 * 1024:
        fh.oversize_mb = size / (1024 * 1024)
    defer = _DEFER_BYTES if fh.oversize_mb else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fh.ds = pydicom.dcmread(path, stop_before_pixels=True, defer_size=defer)
        except InvalidDicomError:
            fh.ds = _forced_read(path, defer)
            fh.forced = fh.ds is not None
            if fh.ds is None:
                fh.error = SpectSSPError(ErrorCode.NOT_DICOM, "file is not DICOM (no DICM prefix and no DICOM header).")
        except OSError as exc:
            fh.error = SpectSSPError(ErrorCode.UNREADABLE, f"file cannot be read ({exc.strerror or exc}).")
        except Exception as exc:  # pydicom raises many types for corrupt headers
            log.debug("header of %s failed to parse", path, exc_info=True)
            fh.error = SpectSSPError(ErrorCode.UNREADABLE, f"DICOM header cannot be parsed ({type(exc).__name__}).")
        if fh.ds is not None and not fh.forced and not _looks_like_dicom(fh.ds):
            fh.error = SpectSSPError(ErrorCode.UNREADABLE, "DICOM header lacks SOPClassUID and SeriesInstanceUID.")
            fh.ds = None
    for w in caught:
        log.debug("%s: pydicom: %s", path.name, w.message)
    return fh


def _starts_like_dataset(path: Path) -> bool:
    """A bare dataset begins with a group 0002 or 0008 tag; text, JPEG and noise do not.

    Checking this first keeps pydicom from force-parsing arbitrary files (slow, noisy logs).
    """
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    if len(head) < 4:
        return False
    return int.from_bytes(head[:2], "little") in (0x0002, 0x0008) or int.from_bytes(head[:2], "big") == 0x0008


def _forced_read(path: Path, defer: int | None) -> Dataset | None:
    """A bare dataset (no preamble, no file meta), as some old systems write it, or None."""
    if not _starts_like_dataset(path):
        return None
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True, defer_size=defer)
    except Exception:
        return None
    return ds if _looks_like_dicom(ds) else None


def read_full(fh: FileHeader) -> Dataset:
    """The whole dataset including pixel data (size limits are checked by the caller first)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = pydicom.dcmread(fh.path, force=fh.forced)
        except OSError as exc:
            raise SpectSSPError(ErrorCode.UNREADABLE, f"file {fh.path.name!r} cannot be read ({exc.strerror or exc}).") from None
        except Exception as exc:
            log.debug("full read of %s failed", fh.path, exc_info=True)
            raise SpectSSPError(ErrorCode.UNREADABLE,
                                f"file {fh.path.name!r} cannot be parsed ({type(exc).__name__}).") from None
    for w in caught:
        log.debug("%s: pydicom: %s", fh.path.name, w.message)
    if fh.forced:
        _set_transfer_syntax(ds)
    return ds


def _set_transfer_syntax(ds: Dataset) -> None:
    """Bare datasets carry no Transfer Syntax UID; pixel decoding needs one."""
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return
    implicit, little = ds.original_encoding
    if implicit is None:
        implicit, little = True, True
    if implicit:
        ts = pydicom.uid.ImplicitVRLittleEndian
    else:
        ts = pydicom.uid.ExplicitVRLittleEndian if little else pydicom.uid.ExplicitVRBigEndian
    if meta is None:
        ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts
