"""Evaluation reports: per-study calls and recall by phantom variant (where the misses are)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from models import CLASSES
from models.evaluate import SetPredictions, markdown, phantom_variant, recall_by_variant


def _probs(calls: list[str], repeats: int = 2) -> np.ndarray:
    """Per-repeat probabilities whose mean calls ``calls``; the first repeat alone calls NC
    everywhere, so code that read one repeat instead of the ensemble mean would fail."""
    p = np.full((repeats, len(calls), 3), 0.1)
    for i, c in enumerate(calls):
        p[1:, i, CLASSES.index(c)] = 0.8
        p[0, i, CLASSES.index("NC")] = 0.6
        p[0, i, CLASSES.index(c)] += 0.35
    return p


def test_recall_by_variant_counts_each_cell():
    labels = np.array([CLASSES.index(c) for c in ("DLB", "DLB", "DLB", "AD", "NC")])
    calls = np.array([CLASSES.index(c) for c in ("DLB", "NC", "NC", "AD", "AD")])
    out = recall_by_variant(labels, calls, ["typical", "mild", "mild", "partial", "none"],
                            ["DLB", "NC", "indeterminate", "AD", "AD"])
    assert out["DLB"]["typical"] == {"n": 1, "correct": 1, "indeterminate": 0, "recall": 1.0}
    assert out["DLB"]["mild"] == {"n": 2, "correct": 0, "indeterminate": 1, "recall": 0.0}
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
                        variants=["typical", "typical", "mild", "none"],
                        product_labels=["AD", "indeterminate", "NC", "NC"])
    rep = sp.report()
    assert [c["call"] for c in rep["calls"]] == ["AD", "DLB", "NC", "NC"]      # the ensemble mean's top class
    assert rep["calls"][2] == {"item": "DLB/c", "true": "DLB", "call": "NC", "product_label": "NC",
                               "probabilities": [0.1, 0.1, 0.875], "variant": "mild"}
    assert rep["calls"][1]["product_label"] == "indeterminate" and rep["indeterminate"] == 1
    assert rep["ensemble"]["accuracy"] == 0.75
    # what the product reported: the indeterminate DLB is a miss there
    assert rep["product"] == {"accuracy": 0.5, "recall": {"AD": 1.0, "DLB": 0.0, "NC": 1.0}, "indeterminate": 1}
    assert rep["by_variant"]["DLB"] == {"typical": {"n": 1, "correct": 1, "indeterminate": 1, "recall": 1.0},
                                        "mild": {"n": 1, "correct": 0, "indeterminate": 0, "recall": 0.0}}
    md = markdown({"model": "m", "repeats": 2, "data": "d", "sets": {"test": rep}})
    assert "Recall by phantom variant, test" in md and "| DLB | mild | 0 / 1 | 0.00 | 0 |" in md
    assert "What the product reported, test (`indeterminate` counted as a miss): accuracy 0.500" in md


def test_per_item_lists_must_match_the_items():
    with pytest.raises(ValueError, match="variants"):
        SetPredictions("test", _probs(["AD", "NC"]), np.array([0, 2]), ["AD/a", "NC/b"], variants=["typical"])
    with pytest.raises(ValueError, match="product_labels"):
        SetPredictions("test", _probs(["AD"]), np.array([0]), ["AD/a"], product_labels=["AD", "NC"])
    with pytest.raises(ValueError, match="one entry per item"):
        SetPredictions("test", _probs(["AD"]), np.array([0, 1]), ["AD/a"])


def test_simulated_sets_carry_no_per_item_calls():
    sp = SetPredictions("validation", _probs(["AD", "NC"]), np.array([0, 2]), ["v-0", "v-1"])
    rep = sp.report()
    assert "calls" not in rep and "by_variant" not in rep
    assert "Recall by phantom variant" not in markdown({"model": "m", "repeats": 2, "data": "d",
                                                        "sets": {"validation": rep}})


def test_real_test_studies_list_calls_without_a_variant_table():
    sp = SetPredictions("test", _probs(["AD"]), np.array([0]), ["AD/x"], variants=[None], product_labels=["AD"])
    rep = sp.report()
    assert rep["calls"][0]["variant"] is None and "by_variant" not in rep
    assert rep["product"]["accuracy"] == 1.0


def test_variant_table_from_an_older_report_has_no_indeterminate_column():
    from models.evaluate import variant_markdown
    old = {"DLB": {"mild": {"n": 2, "correct": 1, "recall": 0.5}}}
    lines = variant_markdown("test", old)
    assert "| DLB | mild | 1 / 2 | 0.50 |" in lines and not any("indeterminate" in line for line in lines)


def test_atypical_studies_are_counted_beside_indeterminate():
    items = ["AD/a", "DLB/b", "NC/c"]
    sp = SetPredictions("test", _probs(["AD", "DLB", "NC"]), np.array([0, 1, 2]), items,
                        product_labels=["AD", "indeterminate", "indeterminate"], atypical=[False, True, False])
    rep = sp.report()
    assert rep["atypical"] == 1 and rep["indeterminate"] == 2
    md = markdown({"model": "m", "repeats": 2, "data": "d", "sets": {"test": rep}})
    assert "| indeterminate | atypical | failed |" in md and "| 2 | 1 | 0 |" in md
    assert SetPredictions("test", _probs(["AD"]), np.array([0]), ["AD/a"]).report()["atypical"] == 0
    with pytest.raises(ValueError, match="atypical"):
        SetPredictions("test", _probs(["AD"]), np.array([0]), ["AD/a"], atypical=[True, False])
