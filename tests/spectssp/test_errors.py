"""The error model: codes are stable strings, each one a rejection or a failure, every raised
error carries one."""
from __future__ import annotations

import json

import pytest

from spectssp.errors import ConfigError, ErrorCode, SpectSSPError

# The codes as result.json and the ledger spell them (before they became an Enum); never change.
REJECTIONS = ["not_dicom", "unreadable", "no_pixel_data", "unsupported_modality", "unsupported_sop_class",
              "planar", "inconsistent_geometry", "degenerate_counts", "implausible_size", "tracer_not_covered",
              "incomplete_series", "registration_failed", "unsupported_image", "tracer_conflict", "incomplete_coverage"]
FAILURES = ["normal_db_mismatch", "model_error", "output_write_failed", "internal_error", "config_invalid",
            "input_not_found", "delivery_failed", "worker_crashed", "already_running"]


def test_values_are_the_old_strings_and_nothing_else():
    assert sorted(c.value for c in ErrorCode) == sorted(REJECTIONS + FAILURES)
    assert ErrorCode.NOT_DICOM == "not_dicom" and ErrorCode("worker_crashed") is ErrorCode.WORKER_CRASHED


@pytest.mark.parametrize("value", REJECTIONS)
def test_rejections_are_about_the_input(value):
    assert ErrorCode(value).is_rejection and ErrorCode(value).status == "rejected"


@pytest.mark.parametrize("value", FAILURES)
def test_failures_are_about_us(value):
    assert not ErrorCode(value).is_rejection and ErrorCode(value).status == "failed"


def test_as_dict_gives_plain_strings_that_serialise_unchanged():
    d = SpectSSPError(ErrorCode.PLANAR, "planar image.").as_dict()
    assert d == {"code": "planar", "message": "planar image."} and type(d["code"]) is str
    assert json.loads(json.dumps({"code": ErrorCode.PLANAR})) == {"code": "planar"}
    assert f"[{ErrorCode.PLANAR}]" == "[planar]"


def test_unknown_code_is_refused():
    with pytest.raises(ValueError):
        SpectSSPError("no_such_code", "x")   # type: ignore[arg-type]


def test_config_error_carries_config_invalid():
    assert ConfigError("bad.").code is ErrorCode.CONFIG_INVALID
