"""result.json (contract ``spectssp.result/1``, JSON Schema in docs/result.schema.json).

One typed :class:`Result` per series. The stages return their parts: registration a
:class:`Registration`, the analyser an :class:`atlas.analysis.Statistics`, the classifier a
:class:`models.inference.Classification`, the outputs a list of :class:`OutputEntry`; the
pipeline assembles them here. :meth:`Result.as_dict` is the only place that turns a result
into the contract's JSON form.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields, is_dataclass, replace
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

from atlas.analysis import Statistics
from models.inference import Classification
from spectssp import RESEARCH_BANNER, SOFTWARE_NAME, __version__
from spectssp.errors import SpectSSPError
from spectssp.fsutil import file_sha256

SCHEMA = "spectssp.result/1"
DATA_NOTE = ("RESEARCH USE ONLY - NOT FOR DIAGNOSIS. The bundled normal database and model are built "
             "from digital phantoms, for demonstration and tests only.")
OUTPUT_KINDS = ("ssp-sheet", "gradcam", "sr", "report")
# Field metadata: leave the key out of result.json while the value is None (a key that only
# some results carry, such as registration.qc_image).
OMIT_NONE = {"omit_none": True}


class Status(StrEnum):
    OK = "ok"
    REJECTED = "rejected"    # the input is not processable (its fault)
    FAILED = "failed"        # we could not process it (ours, or the machine's)


@dataclass(frozen=True)
class ResultError:
    """Why a result is not ok: a stable code (spectssp.errors) and one sentence."""

    code: str
    message: str

    @classmethod
    def of(cls, exc: SpectSSPError) -> ResultError:
        return cls(exc.code, exc.message)


@dataclass(frozen=True)
class QCMembers:
    """Where a study's QC value stands among the normal database's members (same template)."""

    n: int
    min: float
    max: float
    percentile: float          # % of members whose QC is at or below the study's
    warn_below: float          # kept members' minimum (QC outliers left out) minus registration.qc_warn_margin
    reject_below: float        # the larger of registration.qc_floor and min minus qc_reject_margin


@dataclass(frozen=True)
class Registration:
    """The registration stage's part: transform, QC correlation and whether it passed."""

    transform: str
    qc: float
    passed: bool
    qc_threshold: float               # the value QC had to reach (relative rule: qc_members.reject_below)
    profile: str                      # registration.profile: spect (default) or reference
    qc_image: str | None = field(default=None, metadata=OMIT_NONE)   # when QC failed or was flagged
    template: str = "bundled"         # site: the normal database's own template; bundled: the atlas's
    # The members' QC distribution the study was judged against; absent under the absolute rule
    # (a database that does not record its members' QC against this template).
    qc_members: QCMembers | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True)
class OutputEntry:
    """One file in ``outputs``; ``sop_class_uid`` is None for pictures that are not DICOM."""

    kind: str
    path: str
    sop_class_uid: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in OUTPUT_KINDS:
            raise ValueError(f"output kind {self.kind!r} is not one of {', '.join(OUTPUT_KINDS)}")
        object.__setattr__(self, "path", str(self.path))


@dataclass
class Timings:
    """Seconds per stage (rounded to ms); ``total`` includes this series' share of reading."""

    read: float = 0.0
    register: float = 0.0
    ssp: float = 0.0
    classify: float = 0.0
    write: float = 0.0
    total: float = 0.0


@dataclass(frozen=True)
class Software:
    name: str = SOFTWARE_NAME
    version: str = __version__
    notice: str = RESEARCH_BANNER


@dataclass(frozen=True)
class NormalDatabaseInfo:
    """The normal database the statistics were computed against (sha256: first 16 hex digits)."""

    path: str
    n: int
    tracer: str
    sha256: str


@dataclass(frozen=True)
class Hashes:
    """What the result was computed from, as sha256 hex digests: the input files' contents (in
    path order; None when one cannot be read), the settings that shape a result
    (:func:`processor.config.processing_sha256`), the normal database's statistics and the
    model card (None: statistics only). ``spectssp batch`` skips a series whose hashes match."""

    inputs: str | None
    config: str
    normal_database: str
    model: str | None


def inputs_sha256(files: list[Path] | list[str]) -> str | None:
    """One digest over the contents of ``files`` in the given order; None when one is unreadable."""
    h = hashlib.sha256()
    for f in files:
        digest = file_sha256(Path(f))
        if digest is None:
            return None
        h.update(digest.encode("ascii"))
    return h.hexdigest()


@dataclass
class Result:
    """One series' result as the pipeline builds it; ``failed`` until the stages say otherwise."""

    inputs: list[str]
    study_instance_uid: str | None
    series_instance_uid: str | None
    status: Status = Status.FAILED
    error: ResultError | None = None
    classification: Classification | None = None
    registration: Registration | None = None
    statistics: Statistics | None = None
    outputs: list[OutputEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings_s: Timings = field(default_factory=Timings)
    software: Software = field(default_factory=Software)
    normal_database: NormalDatabaseInfo | None = None
    tracer: dict[str, Any] | None = None   # {name, radionuclide, evidence}: what intake decided, from what
    coverage: dict[str, float] | None = None   # fraction inside the field of view per part/region
    hashes: Hashes | None = None

    def __post_init__(self) -> None:
        self.inputs = [str(p) for p in self.inputs]
        self.status = Status(self.status)

    def warn_once(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def relocated(self, staging: Path, final: Path) -> Result:
        """A copy with output paths as they will be once the staging folder is published."""
        def fix(p: str) -> str:
            return str(final / Path(p).relative_to(staging)) if p.startswith(str(staging)) else p
        reg = self.registration
        if reg is not None and reg.qc_image is not None:
            reg = replace(reg, qc_image=fix(reg.qc_image))
        return replace(self, outputs=[replace(o, path=fix(o.path)) for o in self.outputs], registration=reg)

    def as_dict(self) -> dict[str, Any]:
        """The result.json form (key order as written since spectssp.result/1)."""
        stats = self.statistics
        out = {
            "schema": SCHEMA,
            "status": self.status.value,
            "error": _plain(self.error),
            "inputs": list(self.inputs),
            "study_instance_uid": self.study_instance_uid,
            "series_instance_uid": self.series_instance_uid,
            "classification": _plain(self.classification),
            "registration": _plain(self.registration),
            "resolution": _plain(stats.resolution) if stats else None,
            "reference_regions": list(stats.reference_regions) if stats else [],
            "regions": _plain(stats.regions) if stats else {},
            "indices": _plain(stats.indices) if stats else {},
            "outputs": _plain(self.outputs),
            "warnings": list(self.warnings),
            "timings_s": _plain(self.timings_s),
            "software": _plain(self.software),
            "normal_database": _plain(self.normal_database),
            "note": DATA_NOTE,
        }
        if stats is not None:
            out["statistics_reference"] = stats.statistics_reference
        out["tracer"] = _plain(self.tracer)   # additive (issue 12): last, so the earlier order holds
        if self.coverage is not None:   # additive: only once the coverage check has run
            out["coverage"] = dict(self.coverage)
        if self.hashes is not None:
            out["hashes"] = _plain(self.hashes)
        return out


def _plain(value: Any) -> Any:
    """Records to JSON values: dataclasses by field order, enums by value, tuples as lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(v) for f in fields(value)
                if (v := getattr(value, f.name)) is not None or not f.metadata.get("omit_none")}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
