"""Error codes: every rejection or failure carries a stable code and one sentence.

Codes are part of result.json (``error.code``) and of the ledger, so they never change
meaning. Add new ones here, never inline strings elsewhere.
"""
from __future__ import annotations

# Intake (per file or per series)
NOT_DICOM = "not_dicom"
UNREADABLE = "unreadable"                  # truncated or undecodable pixel data / header
NO_PIXEL_DATA = "no_pixel_data"
UNSUPPORTED_MODALITY = "unsupported_modality"
UNSUPPORTED_SOP_CLASS = "unsupported_sop_class"
PLANAR = "planar"                          # not a reconstructed volume
INCONSISTENT_GEOMETRY = "inconsistent_geometry"
DEGENERATE_COUNTS = "degenerate_counts"
IMPLAUSIBLE_SIZE = "implausible_size"
TRACER_NOT_COVERED = "tracer_not_covered"
INCOMPLETE_SERIES = "incomplete_series"
# Processing
REGISTRATION_FAILED = "registration_failed"
NORMAL_DB_MISMATCH = "normal_db_mismatch"
MODEL_ERROR = "model_error"
OUTPUT_WRITE_FAILED = "output_write_failed"
INTERNAL_ERROR = "internal_error"
# Configuration and command line
CONFIG_INVALID = "config_invalid"
INPUT_NOT_FOUND = "input_not_found"
DELIVERY_FAILED = "delivery_failed"


class SpectSSPError(Exception):
    """An expected failure with a stable ``code`` and a human ``message`` (one sentence)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class ConfigError(SpectSSPError):
    """Invalid configuration; the CLI exits with status 2."""

    def __init__(self, message: str) -> None:
        super().__init__(CONFIG_INVALID, message)

# Appended: intake
UNSUPPORTED_IMAGE = "unsupported_image"    # colour, gated, several energy windows/detectors in one volume
WORKER_CRASHED = "worker_crashed"          # the worker process died or timed out on this job
