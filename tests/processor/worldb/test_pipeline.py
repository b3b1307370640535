"""One world-B normal study through the whole product pipeline with the default configuration."""
from __future__ import annotations

import pytest

from processor.config import defaults
from processor.pipeline import Pipeline
from processor.worldb import make_study, write_study


@pytest.mark.slow
def test_world_b_normal_passes_registration_qc(tmp_path):
    study = make_study("NC", 17, 0)
    files = write_study(study, tmp_path / "in" / study.name)
    (result,) = Pipeline(defaults()).process_paths(files, tmp_path / "out")
    assert result["status"] == "ok", result.get("error")
    assert result["registration"]["passed"] and result["registration"]["qc"] > 0.85
    assert result["classification"] is not None
