"""``make bench-reject``'s own checks: bad arguments and a study that was not rejected end in a
sentence, not a traceback (the timing itself is not a test: docs/tracers.md)."""
from __future__ import annotations

import json
import subprocess

import pytest

from processor import bench_reject


def test_runs_below_one_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        bench_reject.main(["--runs", "0", "--out", str(tmp_path)])
    assert exc.value.code == 2 and "--runs must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "reject").exists()


@pytest.mark.parametrize("printed,said", [
    ({"status": "ok", "error": None}, "status 'ok': the study was not rejected"),
    ({"status": "rejected", "error": {"code": "planar", "message": "2D"}}, "error 'planar': 2D"),
])
def test_a_study_not_rejected_for_its_tracer_is_said_in_a_sentence(tmp_path, monkeypatch, printed, said):
    done = subprocess.CompletedProcess([], 0 if printed["status"] == "ok" else 1, json.dumps([printed]), "")
    monkeypatch.setattr(bench_reject, "timed", lambda cmd: (0.1, done))
    with pytest.raises(SystemExit) as exc:
        bench_reject.reject_once(tmp_path, tmp_path / "out", tmp_path / "logs")
    assert said in str(exc.value.code) and "expected a tracer_not_covered rejection" in str(exc.value.code)
