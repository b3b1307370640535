"""Error codes: every rejection or failure carries a stable code and one sentence.

Codes are part of result.json (``error.code``) and of the ledger, so they never change
meaning or spelling (:class:`ErrorCode` is a ``StrEnum``: its members *are* those strings).
Each code says whether it is a rejection (about the input: status ``rejected``) or a failure
(about us or the site: status ``failed``). Add new codes here, never inline strings elsewhere.
"""
from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """A stable error code; :attr:`is_rejection` tells rejected input from our failure."""

    # Intake (per file or per series): rejections
    NOT_DICOM = "not_dicom"
    UNREADABLE = "unreadable"                      # truncated or undecodable pixel data / header
    NO_PIXEL_DATA = "no_pixel_data"
    UNSUPPORTED_MODALITY = "unsupported_modality"
    UNSUPPORTED_SOP_CLASS = "unsupported_sop_class"
    UNSUPPORTED_IMAGE = "unsupported_image"        # colour, gated, several energy windows/detectors
    PLANAR = "planar"                              # not a reconstructed volume
    INCONSISTENT_GEOMETRY = "inconsistent_geometry"
    DEGENERATE_COUNTS = "degenerate_counts"
    IMPLAUSIBLE_SIZE = "implausible_size"
    TRACER_NOT_COVERED = "tracer_not_covered"
    TRACER_CONFLICT = "tracer_conflict"            # the header contradicts itself (intake.tracer_conflict: reject)
    INCOMPLETE_SERIES = "incomplete_series"
    REGISTRATION_FAILED = "registration_failed"    # the study does not register: about the input
    INCOMPLETE_COVERAGE = "incomplete_coverage"    # the field of view misses a part of the brain
    # Processing: failures
    NORMAL_DB_MISMATCH = "normal_db_mismatch"
    MODEL_ERROR = "model_error"
    OUTPUT_WRITE_FAILED = "output_write_failed"
    INTERNAL_ERROR = "internal_error"
    WORKER_CRASHED = "worker_crashed"              # the worker process died or timed out on this job
    # Configuration, command line and service: failures
    CONFIG_INVALID = "config_invalid"
    INPUT_NOT_FOUND = "input_not_found"
    DELIVERY_FAILED = "delivery_failed"
    ALREADY_RUNNING = "already_running"            # another daemon holds the state folder

    @property
    def is_rejection(self) -> bool:
        """True when the error is about the input (``rejected``), False when about us (``failed``)."""
        return self in _REJECTIONS

    @property
    def status(self) -> str:
        """The result status this code gives a series: ``rejected`` or ``failed``."""
        return "rejected" if self.is_rejection else "failed"


_REJECTIONS = frozenset({
    ErrorCode.NOT_DICOM, ErrorCode.UNREADABLE, ErrorCode.NO_PIXEL_DATA, ErrorCode.UNSUPPORTED_MODALITY,
    ErrorCode.UNSUPPORTED_SOP_CLASS, ErrorCode.UNSUPPORTED_IMAGE, ErrorCode.PLANAR,
    ErrorCode.INCONSISTENT_GEOMETRY, ErrorCode.DEGENERATE_COUNTS, ErrorCode.IMPLAUSIBLE_SIZE,
    ErrorCode.TRACER_NOT_COVERED, ErrorCode.INCOMPLETE_SERIES, ErrorCode.REGISTRATION_FAILED,
    ErrorCode.TRACER_CONFLICT,
    ErrorCode.INCOMPLETE_COVERAGE,
})


class SpectSSPError(Exception):
    """An expected failure with a stable ``code`` and a human ``message`` (one sentence)."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        self.code = ErrorCode(code)
        self.message = message
        super().__init__(f"{self.code.value}: {message}")

    def as_dict(self) -> dict[str, str]:
        """``{"code", "message"}`` as plain strings, as result.json and reason.json carry them."""
        return {"code": self.code.value, "message": self.message}


class ConfigError(SpectSSPError):
    """Invalid configuration; the CLI exits with status 2."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.CONFIG_INVALID, message)
