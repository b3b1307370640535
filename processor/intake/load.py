"""Intake orchestration: paths in, one validated :class:`SeriesIntake` per series out.

Order of checks per series: identity (modality, SOP class, image type) -> header sizes ->
tracer (header only, so a foreign tracer costs no pixel read) -> layout and geometry -> pixel
data -> counts. Each failure is a
:class:`SpectSSPError`; nothing here lets an exception escape for bad input.
"""
from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import Iterator, Literal, Sequence

import numpy as np
import SimpleITK as sitk
from pydicom.dataset import Dataset

from spectssp.errors import ErrorCode
from spectssp.errors import SpectSSPError
from processor.intake import validate as v
from processor.intake.discover import FileHeader, find_files, header_text, read_full, read_header
from processor.intake.result import SeriesIntake
from processor.intake.series import SeriesGroup, group_series
from processor.intake.tracer import TracerRule, decide, identify, normalise_tracer
from processor.intake.volume import multiframe_volume, slice_geometry, slice_plane, to_image

log = logging.getLogger(__name__)

DEFAULT_MAX_VOXELS = 64_000_000
DEFAULT_MAX_FILE_MB = 2048.0
DEFAULT_MIN_SLICES = 16


class SeriesScan:
    """Every file's header read and grouped into series; each series' pixel data read only when
    iteration reaches it, so a caller that processes and drops one series at a time holds one
    volume, not a folder's worth (``make bench-intake`` measures the peak memory)."""

    def __init__(self, n_files: int, groups: list[SeriesGroup], header_s: float, options: dict) -> None:
        self.n_files, self.groups, self.header_s, self._options = n_files, groups, header_s, options

    def __len__(self) -> int:
        return len(self.groups)

    def header_matches(self) -> set[str | None]:
        """The covered tracers (None: no check) of the series whose headers pass every check made
        before pixels are read (kind, pixel format, tracer rule); empty when none does. Header
        cost only, so ``spectssp process`` can start its deferred loads before any pixel read
        while a folder whose every series is rejected from its header still loads nothing."""
        rule: TracerRule = self._options["rule"]
        matched: set[str | None] = set()
        for group in self.groups:
            if group.failed is not None:
                continue
            probe = SeriesIntake(series_uid=group.series_uid, study_uid=None, files=[])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # assemble() logs them when it reads the series
                try:
                    probe.tracer_id = identify(group.instances[0].ds)
                    _check_header(probe, group, rule)
                except Exception:  # noqa: BLE001 - any failure is assemble()'s to report; this only looks
                    continue
            matched.add(probe.tracer_match)
        return matched

    def __iter__(self) -> Iterator[SeriesIntake]:
        for group in self.groups:
            t = time.perf_counter()
            out = assemble(group, **self._options)
            out.read_s = time.perf_counter() - t + self.header_s / max(len(self.groups), 1)
            yield out


def scan_series(paths: Sequence[Path | str], *, max_voxels: int = DEFAULT_MAX_VOXELS,
                max_file_mb: float = DEFAULT_MAX_FILE_MB, min_slices: int = DEFAULT_MIN_SLICES,
                expected_tracer: str | Sequence[str] | None = None,
                tracer_policy: Literal["reject", "warn"] = "reject", tracer_unstated: str = "assume",
                tracer_conflict: str = "warn") -> SeriesScan:
    """Headers first (no pixel data): the series of ``paths``, each read and validated as it is
    iterated (see :class:`SeriesScan`). Arguments and errors as :func:`load_series`."""
    t = time.perf_counter()
    files = find_files(paths)
    headers = [read_header(f, max_file_mb=max_file_mb) for f in files]
    groups = group_series(headers)
    rule = tracer_rule(expected_tracer, tracer_policy, tracer_unstated, tracer_conflict)
    return SeriesScan(len(files), groups, time.perf_counter() - t,
                      {"max_voxels": max_voxels, "min_slices": min_slices, "rule": rule})


def load_series(paths: Sequence[Path | str], *, max_voxels: int = DEFAULT_MAX_VOXELS,
                max_file_mb: float = DEFAULT_MAX_FILE_MB, min_slices: int = DEFAULT_MIN_SLICES,
                expected_tracer: str | Sequence[str] | None = None,
                tracer_policy: Literal["reject", "warn"] = "reject", tracer_unstated: str = "assume",
                tracer_conflict: str = "warn") -> list[SeriesIntake]:
    """Read every file under ``paths`` and return one result per series (or unusable file),
    every volume in memory at once (:func:`scan_series` reads them one at a time).

    ``expected_tracer`` is the normal database's tracer, or the tracers of several databases;
    each accepted series records the one it matched (``SeriesIntake.tracer_match``).
    Raises :class:`SpectSSPError` (INPUT_NOT_FOUND) only when a given path does not exist;
    every problem with file content is reported in the results instead.
    """
    scan = scan_series(paths, max_voxels=max_voxels, max_file_mb=max_file_mb, min_slices=min_slices,
                       expected_tracer=expected_tracer, tracer_policy=tracer_policy,
                       tracer_unstated=tracer_unstated, tracer_conflict=tracer_conflict)
    results = list(scan)
    n_ok = sum(r.ok for r in results)
    log.info("intake: %d file(s), %d series, %d accepted", scan.n_files, len(results), n_ok)
    return results


def read_volume(paths: Sequence[Path | str], *, max_voxels: int = DEFAULT_MAX_VOXELS,
                max_file_mb: float = DEFAULT_MAX_FILE_MB, min_slices: int = DEFAULT_MIN_SLICES,
                expected_tracer: str | None = None,
                tracer_policy: Literal["reject", "warn"] = "reject") -> tuple[sitk.Image, Dataset]:
    """The volume and header of the single series in ``paths``, or raise its error.

    For callers that know what they pass (tests, the normal-database builder): more than one
    series is an error too.
    """
    results = load_series(paths, max_voxels=max_voxels, max_file_mb=max_file_mb, min_slices=min_slices,
                          expected_tracer=expected_tracer, tracer_policy=tracer_policy)
    for r in results:
        if not r.ok:
            raise r.error
    if len(results) != 1:
        raise SpectSSPError(ErrorCode.INCONSISTENT_GEOMETRY, f"expected one series, found {len(results)}.")
    return results[0].image, results[0].header


def expected_name(expected: str | None) -> str | None:
    """The normal database's tracer as a short name; "unknown" or empty means: do not check.

    A database built from series whose header named no tracer says "unknown"; comparing
    against that would reject every study, so no tracer check is made.
    """
    if not expected or expected.strip().lower() in ("unknown", "none", "-"):
        return None
    return normalise_tracer(expected) or expected.strip().upper()


def tracer_rule(expected: str | Sequence[str] | None, policy: str, unstated: str = "assume",
                conflict: str = "warn") -> TracerRule:
    """The covered tracers (databases whose tracer is unknown cover nothing checkable) and policies."""
    listed = [expected] if isinstance(expected, str) or expected is None else list(expected)
    covered = tuple(dict.fromkeys(n for n in (expected_name(e) for e in listed) if n))
    return TracerRule(covered, policy, unstated, conflict)


def intake_options(section) -> dict:
    """``load_series`` keyword arguments from the config's ``intake:`` section."""
    return {"max_voxels": section.max_voxels, "max_file_mb": section.max_file_mb,
            "min_slices": section.min_slices, "tracer_policy": section.tracer_policy,
            "tracer_unstated": section.tracer_unstated, "tracer_conflict": section.tracer_conflict}


def _summary(out: SeriesIntake, ds: Dataset) -> None:
    """Display fields from a header; tolerant of any value a real file may carry."""
    def text(keyword: str) -> str | None:
        return header_text(ds, keyword)
    out.study_uid = text("StudyInstanceUID")
    out.patient_id = text("PatientID")
    out.study_date = text("StudyDate")
    out.accession_number = text("AccessionNumber")
    out.modality = text("Modality")
    out.tracer_id = identify(ds)
    out.tracer, out.tracer_text = out.tracer_id.name, out.tracer_id.text


def assemble(group: SeriesGroup, *, max_voxels: int, min_slices: int, rule: TracerRule) -> SeriesIntake:
    """Build and validate one series; any failure becomes a rejected result.

    pydicom warns (through :mod:`warnings`) about every non-conformant value it converts:
    over-long strings, dates like 00000000. Real files are full of them, so they go to the
    debug log instead of the console.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = _assemble(group, max_voxels=max_voxels, min_slices=min_slices, rule=rule)
    for w in caught[:20]:
        log.debug("series %s: %s", group.series_uid, w.message)
    return out


def _assemble(group: SeriesGroup, *, max_voxels: int, min_slices: int, rule: TracerRule) -> SeriesIntake:
    out = SeriesIntake(series_uid=group.series_uid, study_uid=None, files=list(group.files),
                       warnings=list(group.warnings))
    if group.failed is not None:
        return out.reject(group.failed.error)
    out.header = group.instances[0].ds
    try:
        _summary(out, out.header)
        _build(out, group, max_voxels=max_voxels, min_slices=min_slices, rule=rule)
    except SpectSSPError as exc:
        out.reject(exc)
    except MemoryError:
        out.reject(SpectSSPError(ErrorCode.IMPLAUSIBLE_SIZE, "the series does not fit in memory."))
    except Exception as exc:  # a file shape nobody foresaw: report it, never a traceback
        log.warning("series %s: unexpected %s during intake", group.series_uid, type(exc).__name__, exc_info=True)
        out.reject(SpectSSPError(ErrorCode.UNREADABLE, f"the series could not be read ({type(exc).__name__})."))
    if out.ok:
        log.debug("series %s accepted: %s %s", out.series_uid, out.layout, out.matrix)
    else:
        log.info("series %s rejected: %s", out.series_uid, out.error.code)
    return out


def _build(out: SeriesIntake, group: SeriesGroup, *, max_voxels: int, min_slices: int, rule: TracerRule) -> None:
    frames = _check_header(out, group, rule)
    if len(group.instances) == 1:
        _multiframe(out, group.instances[0], frames[0], max_voxels=max_voxels, min_slices=min_slices)
    else:
        _slices(out, group.instances, max_voxels=max_voxels, min_slices=min_slices)
    arr = _array_view(out.image)
    v.check_counts(arr)


def _check_header(out: SeriesIntake, group: SeriesGroup, rule: TracerRule) -> list[int]:
    """Every check a series' headers alone decide (``out.tracer_id`` already identified), in
    intake's order; its instances' frame counts. Sets ``out.tracer_match``."""
    first = group.instances[0].ds
    out.warnings += v.check_kind(first)
    for fh in group.instances[1:]:
        v.check_kind(fh.ds)
        if v.value(fh.ds, "SOPClassUID") != v.value(first, "SOPClassUID"):
            raise SpectSSPError(ErrorCode.INCONSISTENT_GEOMETRY, "the series mixes SOP classes.")
    oversize = [fh for fh in group.instances if fh.oversize_mb]
    if oversize:
        raise SpectSSPError(ErrorCode.IMPLAUSIBLE_SIZE,
                            f"file {oversize[0].path.name!r} is {oversize[0].oversize_mb:.0f} MB, above the size limit.")
    if group.series_uid is None:
        raise SpectSSPError(ErrorCode.UNREADABLE, "the object has no SeriesInstanceUID.")
    for fh in group.instances:
        v.check_pixel_format(fh.ds)
    # The tracer before any pixel is read: a study no database covers is rejected at header cost.
    out.tracer_match, warned = decide(out.tracer_id, rule)
    out.warnings += warned
    frames = [v.as_int(fh.ds, "NumberOfFrames", 1) or 1 for fh in group.instances]
    if len(group.instances) == 1 and frames[0] <= 1:
        raise SpectSSPError(ErrorCode.PLANAR, "the series is a single 2D image, not a reconstructed volume.")
    if len(group.instances) > 1 and max(frames) != 1:
        raise SpectSSPError(ErrorCode.INCONSISTENT_GEOMETRY,
                            f"the series holds {len(frames)} objects of which some are multi-frame; one volume is expected.")
    return frames


def _array_view(img: sitk.Image) -> np.ndarray:
    return sitk.GetArrayViewFromImage(img)


def _multiframe(out: SeriesIntake, fh: FileHeader, frames: int, *, max_voxels: int, min_slices: int) -> None:
    rows, cols = v.as_int(fh.ds, "Rows"), v.as_int(fh.ds, "Columns")
    v.check_size(rows, cols, frames, max_voxels)
    if frames < min_slices:
        raise SpectSSPError(ErrorCode.IMPLAUSIBLE_SIZE,
                            f"the volume has {frames} slices, fewer than the minimum of {min_slices}.")
    v.check_frame_vectors(fh.ds)
    ds = read_full(fh)
    arr, grid = multiframe_volume(ds, out.warnings)
    del ds
    _finish(out, arr, grid, "multiframe")


def _slices(out: SeriesIntake, instances: list[FileHeader], *, max_voxels: int, min_slices: int) -> None:
    headers = [fh.ds for fh in instances]
    rows, cols = v.as_int(headers[0], "Rows"), v.as_int(headers[0], "Columns")
    v.check_size(rows, cols, len(headers), max_voxels)
    order, grid = slice_geometry(headers)
    if len(headers) < min_slices:
        raise SpectSSPError(ErrorCode.INCOMPLETE_SERIES,
                            f"the series has {len(headers)} slices, fewer than the minimum of {min_slices}.")
    planes = []
    for i in order:
        planes.append(slice_plane(read_full(instances[i])))
    out.header = instances[order[0]].ds
    _finish(out, np.stack(planes), grid, "slices")


def _finish(out: SeriesIntake, arr: np.ndarray, grid, layout: str) -> None:
    out.image = to_image(arr, grid)
    out.layout = layout
    out.matrix = tuple(int(n) for n in out.image.GetSize())
    out.spacing_mm = tuple(float(s) for s in out.image.GetSpacing())
