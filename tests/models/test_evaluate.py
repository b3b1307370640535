"""Evaluation reports: per-study calls and recall by phantom variant (where the misses are)."""
from __future__ import annotations

import json

import numpy as np

from models import CLASSES
from models.evaluate import SetPredictions, markdown, phantom_variant, recall_by_variant


def _probs(calls: list[str], repeats: int = 2) -> np.ndarray:
    p = np.full((repeats, len(calls), 3), 0.1)
    for i, c in enumerate(calls):
        p[:, i, CLASSES.index(c)] = 0.8
    return p


def test_recall_by_variant_counts_each_cell():
    labels = np.array([CLASSES.index(c) for c in ("DLB", "DLB", "DLB", "AD", "NC")])
    calls = np.array([CLASSES.index(c) for c in ("DLB", "NC", "NC", "AD", "AD")])
    out = recall_by_variant(labels, calls, ["typical", "mild", "mild", "partial", "none"])
    assert out["DLB"]["typical"] == {"n": 1, "correct": 1, "recall": 1.0}
    assert out["DLB"]["mild"] == {"n": 2, "correct": 0, "recall": 0.0}
    assert out["AD"]["partial"]["recall"] == 1.0 and out["NC"]["none"]["recall"] == 0.0


def test_unknown_variants_are_left_out():
    labels = np.array([0, 1])
    out = recall_by_variant(labels, labels, [None, "typical"])
    assert list(out) == ["DLB"]


def test_phantom_variant_reads_the_truth_beside_the_study(tmp_path):
    study = tmp_path / "DLB" / "DLB_7_0"
    study.mkdir(parents=True)
    assert phantom_variant(study) is None                       # a real study: no truth file
    (tmp_path / "DLB" / "DLB_7_0.truth.json").write_text(json.dumps({"variant": "mild"}))
    assert phantom_variant(study) == "mild"
    (tmp_path / "DLB" / "DLB_7_0.truth.json").write_text("{not json")
    assert phantom_variant(study) is None                       # unreadable: unknown, never a crash


def test_test_set_report_lists_calls_and_variants():
    items = ["AD/a", "DLB/b", "DLB/c", "NC/d"]
    labels = np.array([CLASSES.index(i.split("/")[0]) for i in items])
    sp = SetPredictions("test", _probs(["AD", "DLB", "NC", "NC"]), labels, items,
                        variants=["typical", "typical", "mild", "none"])
    rep = sp.report()
    assert [c["call"] for c in rep["calls"]] == ["AD", "DLB", "NC", "NC"]
    assert rep["calls"][2] == {"item": "DLB/c", "true": "DLB", "call": "NC",
                               "probabilities": [0.1, 0.1, 0.8], "variant": "mild"}
    assert rep["by_variant"]["DLB"] == {"typical": {"n": 1, "correct": 1, "recall": 1.0},
                                        "mild": {"n": 1, "correct": 0, "recall": 0.0}}
    md = markdown({"model": "m", "repeats": 2, "data": "d", "sets": {"test": rep}})
    assert "Recall by phantom variant, test" in md and "| DLB | mild | 0 / 1 | 0.00 |" in md


def test_simulated_sets_carry_no_per_item_calls():
    sp = SetPredictions("validation", _probs(["AD", "NC"]), np.array([0, 2]), ["v-0", "v-1"])
    rep = sp.report()
    assert "calls" not in rep and "by_variant" not in rep
    assert "Recall by phantom variant" not in markdown({"model": "m", "repeats": 2, "data": "d",
                                                        "sets": {"validation": rep}})


def test_real_test_studies_list_calls_without_a_variant_table():
    sp = SetPredictions("test", _probs(["AD"]), np.array([0]), ["AD/x"], variants=[None])
    rep = sp.report()
    assert rep["calls"][0]["variant"] is None and "by_variant" not in rep
