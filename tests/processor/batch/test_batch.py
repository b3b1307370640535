"""spectssp batch on a LocalCluster of 2 worker processes: the same results as ``process``,
exactly one result per series when a worker dies, resumable, summary.csv as the results say."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import yaml

from processor.batch import BatchOptions, run_batch
from processor.batch.summary import columns
from processor.config import load_config
from processor.pipeline import Pipeline
from tests.helpers.results import assert_valid_result
from tests.processor.batch.crashy import MARKER
from tests.processor.daemon.realdata import normal_database, write_studies

CRASHY = "tests.processor.batch.crashy:"


def _config(root: Path, ndb: Path, model: str | None) -> Path:
    """Fast and reproducible: rigid registration on one thread, no PNG copies, two attempts."""
    cfg = {"normal_database": str(ndb), "model": model,
           "registration": {"stages": ["rigid"], "threads": 1},
           "outputs": {"png_report": False}, "daemon": {"max_attempts": 2}}
    path = root / "batch.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("archive")
    studies = write_studies(root / "in", [("NC", 1, "multiframe"), ("AD", 2, "slices"), ("DLB", 3, "multiframe"),
                                          ("NC", 4, "slices")], seed=1313)
    return {"root": root, "studies": studies, "ndb": normal_database(root)}


def _published(out: Path) -> dict[str, dict]:
    """Result folders (not the hidden staging ones) -> their result.json."""
    return {p.name: json.loads((p / "result.json").read_text()) for p in sorted(out.iterdir())
            if p.is_dir() and not p.name.startswith(".")}


def _batch(inputs, out: Path, cfg_path: Path, **kw):
    return run_batch(BatchOptions(list(inputs), out, load_config(cfg_path), workers=2, threads_per_worker=1,
                                  progress=False, **kw), echo=print)


@pytest.mark.slow
def test_batch_equals_process_survives_a_killed_worker_resumes_and_summarises(archive, tmp_path, capsys, monkeypatch):
    """One run for four claims (the budget is two busy cores): a worker process dies with a
    series' staging folder complete, just before publishing; the series runs again on a worker
    and every series has exactly one result, equal to what ``process`` gives."""
    cfg_path = _config(tmp_path, archive["ndb"], "bundled")
    dirs = [s["dir"] for s in archive["studies"]]
    expected = {r["series_instance_uid"]: r for r in Pipeline(load_config(cfg_path)).process_paths(dirs, tmp_path / "p")}

    out = tmp_path / "b"
    monkeypatch.setenv(MARKER, str(tmp_path / "killed-once"))       # inherited by the worker processes
    report = _batch(dirs, out, cfg_path, factory=CRASHY + "kill_once_before_publish")
    assert (tmp_path / "killed-once").exists()                      # a worker did die
    assert (report.found, report.skipped, report.statuses["ok"], report.interrupted) == (4, 0, 4, False)
    results = _published(out)
    assert sorted(r["series_instance_uid"] for r in results.values()) == sorted(expected)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]   # no staging folder left over
    for name, r in results.items():
        assert_valid_result(r)
        want = expected[r["series_instance_uid"]]
        assert r["status"] == want["status"] == "ok" and r["classification"]["label"] == want["classification"]["label"]
        for region, stats in want["regions"].items():
            assert r["regions"][region]["mean_z"] == pytest.approx(stats["mean_z"], abs=1e-6)
            assert r["regions"][region]["extent_pct"] == pytest.approx(stats["extent_pct"], abs=1e-6)
        assert r["hashes"] == want["hashes"]                       # same inputs, settings, database, model
        assert r["outputs"] and all(Path(o["path"]).is_file() and Path(o["path"]).parent.parent == out / name
                                    for o in r["outputs"] if "dicom" in o["path"])

    with open(out / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == columns() and len(rows) == 4
    for row in rows:
        r = results[Path(row["result"]).name]
        assert row["series_instance_uid"] == r["series_instance_uid"] and row["status"] == r["status"]
        assert row["label"] == r["classification"]["label"]
        assert float(row["p_AD"]) == pytest.approx(r["classification"]["probabilities"]["AD"])
        assert float(row["parietal_L_mean_z"]) == pytest.approx(r["regions"]["parietal_L"]["mean_z"])
        assert float(row["severity"]) == pytest.approx(r["indices"]["severity"])
        assert float(row["qc"]) == pytest.approx(r["registration"]["qc"])
        assert row["sha256_inputs"] == r["hashes"]["inputs"]

    capsys.readouterr()
    again = _batch(dirs, out, cfg_path)                             # no cluster is started
    assert (again.skipped, again.processed) == (4, 0)
    assert "4 skipped" in capsys.readouterr().out
    assert _published(out) == results                               # nothing rewritten
    with open(out / "summary.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 4                   # the skipped series are listed too


@pytest.mark.slow
def test_a_series_that_keeps_killing_its_worker_fails_and_the_others_go_on(archive, tmp_path):
    cfg_path = _config(tmp_path, archive["ndb"], None)
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("poison.dcm", "notes-1.txt", "notes-2.txt"):       # the other two are rejected: not DICOM
        (inputs / name).write_text(f"{name}: not DICOM\n")
    report = _batch([inputs], tmp_path / "out", cfg_path, factory=CRASHY + "kill_on_poison")
    results = {Path(r["inputs"][0]).name: r for r in _published(tmp_path / "out").values()}
    assert len(results) == 3 and report.statuses == {"failed": 1, "rejected": 2}
    poison = assert_valid_result(results.pop("poison.dcm"))
    assert poison["status"] == "failed" and poison["error"]["code"] == "worker_crashed"
    assert "2 times" in poison["error"]["message"]
    assert all(r["error"]["code"] == "not_dicom" for r in results.values())

    # a re-run tries the failed series again, skips the rejected ones (done: the input's fault)
    shutil.move(inputs / "poison.dcm", tmp_path / "poison.dcm")
    rerun = _batch([inputs], tmp_path / "out", cfg_path)
    assert (rerun.found, rerun.skipped, rerun.processed) == (2, 2, 0)


def test_bad_options_are_an_error_sentence(tmp_path, capsys):
    from processor.cli.main import main
    (tmp_path / "in").mkdir()
    assert main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--workers", "-1", "-q"]) == 2
    assert "--workers must be 0" in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "missing"), "--out", str(tmp_path / "o"), "-q"]) == 1
    assert "input_not_found" in capsys.readouterr().err
    (tmp_path / "in" / "a.txt").write_text("not DICOM")
    assert main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--scheduler", "nowhere://x", "-q"]) == 2
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err
