"""Background loads: order, errors kept for the stage that needs them, and the pipeline's model
that fails in the background answering with MODEL_ERROR, as a model that fails at start-up does."""
from __future__ import annotations

import threading

import pytest

from processor import pipeline as pipeline_module
from processor.config import defaults
from processor.pipeline import Pipeline
from processor.preload import Preloader
from spectssp.errors import ErrorCode, SpectSSPError


def test_loads_run_in_order_in_one_background_thread():
    pre, seen, gate = Preloader(), [], threading.Event()
    pre.submit("a", lambda: (gate.wait(5), seen.append(("a", threading.current_thread().name)))[1] or 1)
    pre.submit("b", lambda: seen.append(("b", threading.current_thread().name)) or 2)
    gate.set()
    assert pre.result("b") == 2 and pre.result("a") == 1
    assert [n for n, _ in seen] == ["a", "b"]
    assert all(t.startswith("spectssp-preload") for _, t in seen)
    assert set(pre.waited_s) == {"a", "b"} and set(pre.load_s) == {"a", "b"}
    pre.close()


@pytest.mark.parametrize("background", [True, False])
def test_a_failed_load_is_raised_to_every_caller(background):
    pre = Preloader(background)
    pre.submit("broken", lambda: 1 / 0)
    for _ in range(2):
        with pytest.raises(ZeroDivisionError):
            pre.result("broken")
    assert "broken" in pre and "other" not in pre
    pre.close()


def test_now_runs_the_load_at_submit():
    pre, ran = Preloader(background=False), []
    pre.submit("x", lambda: ran.append(1) or "done")
    assert ran == [1] and pre.result("x") == "done"


def _broken_load(*args, **kwargs):
    raise ValueError("the weights do not fit the network")


def test_model_failing_in_the_background_is_a_coded_model_error(monkeypatch):
    monkeypatch.setattr(pipeline_module, "load_classifier", _broken_load)
    pipe = Pipeline(defaults())
    assert pipe.preload.background
    for _ in range(2):   # every study that needs it gets the same coded error
        with pytest.raises(SpectSSPError) as exc:
            _ = pipe.classifier
        assert exc.value.code is ErrorCode.MODEL_ERROR and "the weights do not fit" in str(exc.value)
    pipe.close()


def test_model_failing_when_loaded_first_stops_the_construction(monkeypatch):
    monkeypatch.setattr(pipeline_module, "load_classifier", _broken_load)
    with pytest.raises(SpectSSPError) as exc:
        Pipeline(defaults(), background=False)
    assert exc.value.code is ErrorCode.MODEL_ERROR


def test_background_pipeline_loads_what_the_stages_need():
    pipe = Pipeline(defaults())
    assert pipe.preload.result("ants").__name__ == "ants"
    assert pipe.preload.result("resolution matcher") is pipe.atlas.resolution_matcher
    assert pipe.classifier is pipe.preload.result("model") and pipe.classifier.members
    assert set(pipe.startup_s) >= {"atlas", "normal database", "model card"}


def test_deferred_pipeline_loads_nothing_for_a_rejected_series_and_starts_with_an_accepted_one(tmp_path):
    from tests.helpers import dicom as gen
    gen.save(gen.mediso_like(), tmp_path / "in" / "mediso.dcm")
    pipe = Pipeline(defaults(), defer_preload=True)
    (r,) = pipe.process_paths([tmp_path / "in"], tmp_path / "out")
    assert r["error"]["code"] == ErrorCode.TRACER_NOT_COVERED
    assert not any(name in pipe.preload for name in ("ants", "resolution matcher", "model"))
    pipe.start_preload()   # what process_series does for a series that passed intake
    assert pipe.preload.result("ants").__name__ == "ants"
    assert pipe.classifier is pipe.preload.result("model") and pipe.classifier.members
    pipe.close()


def test_header_matches_sees_what_headers_alone_decide(tmp_path):
    from processor.intake import scan_series
    from tests.helpers import dicom as gen
    gen.save(gen.mediso_like(), tmp_path / "tc" / "mediso.dcm")
    gen.save(gen.nm_multiframe(gen.test_volume((8, 24, 22)), gen.Geometry(), seed="few"), tmp_path / "imp" / "few.dcm")
    planar = gen.nm_multiframe(gen.test_volume((1, 24, 22)), gen.Geometry(), seed="planar")
    gen.save(planar, tmp_path / "planar" / "planar.dcm")
    assert scan_series([tmp_path / "tc"], expected_tracer="IMP").header_matches() == set()
    assert scan_series([tmp_path / "planar"], expected_tracer="IMP").header_matches() == set()
    assert scan_series([tmp_path / "imp"], expected_tracer="IMP").header_matches() == {"IMP"}
    assert scan_series([tmp_path], expected_tracer="IMP").header_matches() == {"IMP"}


def test_deferred_pipeline_starts_its_loads_when_a_header_passes_before_any_pixel_read(tmp_path, monkeypatch):
    from processor.intake.load import SeriesScan
    from tests.helpers import dicom as gen
    gen.save(gen.nm_multiframe(gen.test_volume((8, 24, 22)), gen.Geometry(), seed="few"), tmp_path / "in" / "few.dcm")
    pipe = Pipeline(defaults(), defer_preload=True)
    started_before_pixels = []
    iterate = SeriesScan.__iter__
    monkeypatch.setattr(SeriesScan, "__iter__",
                        lambda self: (started_before_pixels.append("ants" in pipe.preload), iterate(self))[1])
    (r,) = pipe.process_paths([tmp_path / "in"], tmp_path / "out")
    assert r["status"] == "rejected" and r["error"]["code"] != ErrorCode.TRACER_NOT_COVERED   # 8 slices: too few
    assert started_before_pixels == [True] and not pipe.preload_pending
    pipe.close()
