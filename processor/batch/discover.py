"""The client's view of an archive: series from headers only, never pixel data.

A task carries absolute paths (workers on other machines see the same shared file system,
not the client's working folder) and the result folder name the pipeline will give it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from processor.intake import find_files, read_header
from processor.intake.discover import header_text
from processor.intake.series import group_series
from spectssp.fsutil import safe_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeriesTask:
    """One series (or one unusable file): its files and where its result folder goes."""

    name: str                       # the result folder's name, as the pipeline names it
    files: tuple[str, ...]          # absolute paths, in the pipeline's order
    series_uid: str | None
    study_uid: str | None


def find_series(inputs: Iterable[Path], out_root: Path, *, max_file_mb: float) -> list[SeriesTask]:
    """Every series under ``inputs`` from its headers; files under ``out_root`` are not inputs."""
    out = Path(out_root).absolute()
    files = [f for f in find_files([Path(p).absolute() for p in inputs]) if not f.is_relative_to(out)]
    headers = [read_header(f, max_file_mb=max_file_mb) for f in files]
    tasks = []
    for group in group_series(headers):
        paths = tuple(str(p) for p in group.files)
        first = group.instances[0].ds if group.instances else None
        tasks.append(SeriesTask(safe_name(group.series_uid, "|".join(paths)), paths, group.series_uid,
                                header_text(first, "StudyInstanceUID") if first is not None else None))
    log.info("batch: %d file(s), %d series", len(files), len(tasks))
    return tasks
