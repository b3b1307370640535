"""Several normal databases at once (``normal_databases:``): one pipeline per tracer, checked at start-up."""
from __future__ import annotations

import pytest

from processor.config import from_dict
from processor.pipeline import Pipeline, Pipelines, make_pipeline
from spectssp.errors import ErrorCode, SpectSSPError


def test_one_database_form_stays_one_pipeline() -> None:
    pipe = make_pipeline(from_dict({"model": None}))
    assert isinstance(pipe, Pipeline)
    pipe.close()


def test_each_tracer_gets_one_database_and_the_config_may_name_it(tmp_path) -> None:
    pipes = make_pipeline(from_dict({"normal_databases": [{"path": "bundled", "model": None},
                                                          {"path": "bundled", "model": None, "tracer": "99mTc-ECD"}]}))
    try:
        assert isinstance(pipes, Pipelines) and pipes.tracers == ["IMP", "ECD"]
        assert [m.ndb_info.tracer for m in pipes.members] == ["IMP", "ECD"]
        pipes.on_stage = print                                   # one observer for every database's pipeline
        assert pipes.on_stage is print and all(m.on_stage is print for m in pipes.members)
    finally:
        pipes.close()


def test_two_databases_for_one_tracer_is_a_start_up_error() -> None:
    with pytest.raises(SpectSSPError) as exc:
        Pipelines(from_dict({"normal_databases": [{"path": "bundled", "model": None},
                                                  {"path": "bundled", "model": None}]}))
    assert exc.value.code == ErrorCode.NORMAL_DB_MISMATCH and "two normal databases are for IMP" in exc.value.message


@pytest.mark.parametrize("command", ["evaluate", "demo", "bench", "batch"])
def test_one_database_commands_refuse_several_instead_of_picking_one(command) -> None:
    """evaluate, demo, bench and batch measure one database: with several configured they would
    otherwise fall back to ``normal_database`` without a word."""
    from processor.pipeline import single_pipeline
    cfg = from_dict({"normal_databases": [{"path": "bundled", "model": None},
                                          {"path": "bundled", "model": None, "tracer": "ECD"}]})
    with pytest.raises(SpectSSPError) as exc:
        single_pipeline(cfg, command)
    assert exc.value.code == ErrorCode.CONFIG_INVALID and f"'spectssp {command}' uses one normal database" in exc.value.message
    single_pipeline(from_dict({"model": None}), command).close()   # the one-database form still works
