"""Group file headers into series and drop duplicate SOP instances.

Every file ends in exactly one group, so every input can be accounted for in a result: a
file that is not DICOM, or has no SeriesInstanceUID, is a group of its own.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from spectssp.fsutil import file_sha256
from processor.intake.discover import FileHeader

log = logging.getLogger(__name__)


@dataclass
class SeriesGroup:
    """Files of one SeriesInstanceUID; ``instances`` holds one header per SOP instance."""

    series_uid: str | None
    files: list[Path] = field(default_factory=list)
    instances: list[FileHeader] = field(default_factory=list)
    failed: FileHeader | None = None   # a file that could not be read as DICOM at all
    warnings: list[str] = field(default_factory=list)


def _uid(fh: FileHeader, keyword: str) -> str | None:
    try:
        v = fh.ds.get(keyword, None) if fh.ds is not None else None
    except Exception:
        return None
    v = str(v).strip() if v else ""
    return v or None


def group_series(headers: list[FileHeader]) -> list[SeriesGroup]:
    """Groups in order of their first file; duplicates stay in ``files`` but not ``instances``."""
    groups: list[SeriesGroup] = []
    by_uid: dict[str, SeriesGroup] = {}
    seen: dict[tuple[str, str], FileHeader] = {}
    for fh in headers:
        if fh.error is not None or fh.ds is None:
            groups.append(SeriesGroup(series_uid=None, files=[fh.path], failed=fh))
            continue
        series_uid = _uid(fh, "SeriesInstanceUID")
        if series_uid is None:
            groups.append(SeriesGroup(series_uid=None, files=[fh.path], instances=[fh]))
            continue
        group = by_uid.get(series_uid)
        if group is None:
            group = by_uid[series_uid] = SeriesGroup(series_uid=series_uid)
            groups.append(group)
        group.files.append(fh.path)
        sop_uid = _uid(fh, "SOPInstanceUID")
        if sop_uid is not None:
            first = seen.get((series_uid, sop_uid))
            if first is not None:
                if file_sha256(first.path) != file_sha256(fh.path):
                    group.warnings.append(
                        f"SOP instance {sop_uid} occurs in two files with different content; the first was used.")
                log.debug("duplicate SOP instance %s in series %s dropped", sop_uid, series_uid)
                continue
            seen[(series_uid, sop_uid)] = fh
        group.instances.append(fh)
    return groups
