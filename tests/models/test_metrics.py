"""Table 1 metrics against hand-computed values."""
from __future__ import annotations

import pytest

from models.metrics import aggregate, confusion, fmt, mean_sd, scores

CL = ("AD", "DLB", "NC")


def test_scores_by_hand():
    t = [0, 0, 0, 1, 1, 2, 2, 2]
    p = [0, 0, 1, 1, 2, 2, 2, 0]
    cm = confusion(t, p, 3)
    assert cm.tolist() == [[2, 1, 0], [0, 1, 1], [1, 0, 2]]
    s = scores(cm, CL)
    assert s["accuracy"] == pytest.approx(5 / 8)
    assert s["per_class"]["AD"]["precision"] == pytest.approx(2 / 3)
    assert s["per_class"]["AD"]["recall"] == pytest.approx(2 / 3)
    assert s["per_class"]["DLB"]["precision"] == pytest.approx(1 / 2)
    assert s["per_class"]["DLB"]["recall"] == pytest.approx(1 / 2)
    assert s["per_class"]["NC"]["f_measure"] == pytest.approx(2 / 3)


def test_never_predicted_class_has_zero_precision():
    s = scores(confusion([0, 1, 2], [0, 0, 2], 3), CL)
    assert s["per_class"]["DLB"] == {"precision": 0.0, "recall": 0.0, "f_measure": 0.0, "n": 1}
    assert s["per_class"]["AD"]["precision"] == pytest.approx(0.5)
    assert s["per_class"]["AD"]["f_measure"] == pytest.approx(2 * 0.5 * 1 / 1.5)


def test_mean_sd_over_repeats():
    ms = mean_sd([0.6, 0.7, 0.8])
    assert ms["mean"] == pytest.approx(0.7) and ms["sd"] == pytest.approx(0.1)
    assert fmt(ms) == "0.70+-0.10"
    runs = [scores(confusion([0, 1, 2], [0, 1, 2], 3), CL), scores(confusion([0, 1, 2], [0, 0, 2], 3), CL)]
    agg = aggregate(runs, CL)
    assert agg["accuracy"]["mean"] == pytest.approx(5 / 6)
    assert agg["accuracy"]["sd"] == pytest.approx(((1 - 5 / 6) ** 2 + (2 / 3 - 5 / 6) ** 2) ** 0.5)
    assert agg["per_class"]["DLB"]["recall"]["mean"] == pytest.approx(0.5)


def test_matches_scikit_learn():
    from sklearn.metrics import precision_recall_fscore_support
    t = [0, 1, 2, 2, 1, 0, 0, 2, 1, 1]
    p = [0, 2, 2, 1, 1, 0, 1, 2, 1, 0]
    s = scores(confusion(t, p, 3), CL)
    pr, rc, f, _ = precision_recall_fscore_support(t, p, labels=[0, 1, 2], zero_division=0)
    for i, c in enumerate(CL):
        assert s["per_class"][c]["precision"] == pytest.approx(pr[i])
        assert s["per_class"][c]["recall"] == pytest.approx(rc[i])
        assert s["per_class"][c]["f_measure"] == pytest.approx(f[i])


def test_bad_labels_raise():
    with pytest.raises(ValueError):
        confusion([0, 3], [0, 1], 3)
