"""A fake processing function for fast daemon tests, told per series what to do.

The fake runs in real worker processes, spawned, where the daemon imports the factory by name
(``FACTORY``) and calls it with the config: objects do not cross that boundary and the config
has no room for test keys. So a test says what happens to which series with
``script(cfg, {series_uid: Behaviour})``, which writes the mapping as JSON beside the output
folder (``<output>/../fake-behaviour.json``); the fake reads it on every call. A series not
named is processed: a result folder like the pipeline's, status ok.

Every call appends ``<series uid> <n files> <pid>`` to ``<output>/../calls.log``, and reports
its stages to the daemon as the pipeline does: "read" first, "register" before its sleep,
"write" after it.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Mapping

import pydicom

from atlas.analysis import Indices, RegionStats, Statistics
from processor.daemon.workers import report_stage
from processor.result import OutputEntry, Registration, Result, ResultError, Status
from spectssp.errors import ErrorCode
from spectssp.fsutil import atomic_write_json, publish_dir, safe_name
from tests.helpers.results import load_result

FACTORY = "tests.processor.daemon.fakes:factory"
BEHAVIOUR_FILE = "fake-behaviour.json"


class Outcome(str, Enum):
    OK = "ok"                  # writes a result folder like the pipeline, status ok
    REJECT = "reject"          # result with status rejected (unsupported_modality)
    RAISE = "raise"            # raises RuntimeError (a bug inside the pipeline)
    CRASH = "crash"            # the worker dies, os._exit(7), on every attempt
    CRASH_ONCE = "crash-once"  # the worker dies on the first attempt only


@dataclass(frozen=True)
class Behaviour:
    """What the fake does with one series: sleeps ``sleep_s`` seconds, then ``outcome``."""

    outcome: Outcome = Outcome.OK
    sleep_s: float = 0.0


OK, REJECT, RAISE, CRASH, CRASH_ONCE = (Behaviour(o) for o in Outcome)


def sleep(seconds: float) -> Behaviour:
    """Sleeps, then processes the series (a job that takes a while)."""
    return Behaviour(sleep_s=seconds)


def _run_dir(where: Any) -> Path:
    """The folder above the output: ``where`` is a config or the output folder."""
    output = Path(where) if isinstance(where, (str, Path)) else Path(where.paths.output)
    return output.parent


def script(where: Any, behaviours: Mapping[str, Behaviour]) -> None:
    """Tell the fake what to do per SeriesInstanceUID (replaces what was said before)."""
    path = _run_dir(where) / BEHAVIOUR_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, {uid: {**asdict(b), "outcome": b.outcome.value} for uid, b in behaviours.items()})


def _behaviour(run_dir: Path, series_uid: str) -> Behaviour:
    path = run_dir / BEHAVIOUR_FILE
    said = json.loads(path.read_text(encoding="utf-8")).get(series_uid) if path.exists() else None
    return Behaviour(Outcome(said["outcome"]), float(said["sleep_s"])) if said else Behaviour()


def factory(cfg: Any) -> Callable[[list[Path], Path], list[dict[str, Any]]]:
    log_path = _run_dir(cfg) / "calls.log"

    def process(paths: list[Path], out_root: Path) -> list[dict[str, Any]]:
        report_stage("read")
        ds = pydicom.dcmread(paths[0], stop_before_pixels=True)
        uid = str(ds.SeriesInstanceUID)
        behaviour = _behaviour(log_path.parent, uid)
        with open(log_path, "a", encoding="utf-8") as fh:
            fh.write(f"{uid} {len(paths)} {os.getpid()}\n")
        marker = log_path.with_name(f"crashed-{safe_name(uid)}")
        if behaviour.outcome is Outcome.CRASH or (behaviour.outcome is Outcome.CRASH_ONCE and not marker.exists()):
            marker.touch()
            os._exit(7)
        report_stage("register")
        time.sleep(behaviour.sleep_s)
        report_stage("write")
        if behaviour.outcome is Outcome.RAISE:
            raise RuntimeError("a bug in the pipeline")
        result = _result(paths, ds, rejected=behaviour.outcome is Outcome.REJECT)
        name = safe_name(uid)
        staging = out_root / f".staging-{name}-{os.getpid()}"
        staging.mkdir(parents=True, exist_ok=True)
        if result.status == Status.OK:
            sr = staging / "sr.dcm"
            shutil.copyfile(paths[0], sr)
            result.outputs = [OutputEntry("sr", str(out_root / name / "sr.dcm"), str(ds.SOPClassUID)),
                              OutputEntry("report", str(out_root / name / "report.png"))]
        written = result.as_dict()
        atomic_write_json(staging / "result.json", written)
        publish_dir(staging, out_root / name)
        return [written]

    return process


def _result(paths: list[Path], ds: Dataset, rejected: bool) -> Result:
    """A result like the pipeline's, with made-up statistics (the fake registers nothing)."""
    uid = str(ds.SeriesInstanceUID)
    if rejected:
        return Result(paths, str(ds.StudyInstanceUID), uid, Status.REJECTED,
                      ResultError(ErrorCode.UNSUPPORTED_MODALITY, "not a SPECT series."))
    stats = Statistics(("GLB",), {"parietal_L": RegionStats(0.5, 2.0)}, Indices(0.5, 2.0, 1.0, 0.1), "GLB", None)
    return Result(paths, str(ds.StudyInstanceUID), uid, Status.OK,
                  registration=Registration("fake", 1.0, True, 0.5, "spect"), statistics=stats)


def calls(cfg: Any) -> list[tuple[str, int, int]]:
    """The fake's call log: (series uid, number of files, worker pid); ``cfg`` or the output folder."""
    path = _run_dir(cfg) / "calls.log"
    if not path.exists():
        return []
    return [(u, int(n), int(p)) for u, n, p in (line.split() for line in path.read_text().splitlines())]


def result_json(cfg: Any, series_uid: str) -> dict[str, Any]:
    """The series' result.json, validated against the published schema."""
    return load_result(Path(cfg.paths.output) / safe_name(series_uid) / "result.json")
