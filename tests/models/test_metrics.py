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


def test_expected_calibration_error_by_hand():
    from models.metrics import expected_calibration_error, reliability_bins
    # top probabilities 0.95, 0.92 (bin 0.9-1.0), 0.62 (bin 0.6-0.7), 0.45, 0.42 (bin 0.4-0.5)
    probs = [[0.95, 0.03, 0.02], [0.04, 0.92, 0.04], [0.2, 0.18, 0.62], [0.45, 0.3, 0.25], [0.28, 0.3, 0.42]]
    labels = [0, 1, 0, 0, 1]      # right, right, wrong, right, wrong
    # bin 0.9-1: conf 0.935, acc 1 -> gap 0.065 x 2; bin 0.6-0.7: 0.62 vs 0 x 1; bin 0.4-0.5: 0.435 vs 0.5 x 2
    expected = (2 * 0.065 + 1 * 0.62 + 2 * 0.065) / 5
    assert expected_calibration_error(probs, labels) == pytest.approx(expected)
    cells = reliability_bins(probs, labels)
    assert [c["n"] for c in cells] == [0, 0, 0, 0, 2, 0, 1, 0, 0, 2]
    assert cells[9]["confidence"] == pytest.approx(0.935) and cells[9]["accuracy"] == 1.0
    assert cells[0]["accuracy"] is None
    # a probability exactly on an edge belongs to the lower bin: (0.5, 0.6] holds 0.6, (0.8, 0.9] 0.9
    assert [c["n"] for c in reliability_bins([[0.6, 0.3, 0.1], [0.9, 0.1, 0.0]], [0, 0])] == [0] * 5 + [1, 0, 0, 1, 0]
    assert expected_calibration_error([[1.0, 0.0, 0.0]], [0]) == 0.0
    with pytest.raises(ValueError):
        expected_calibration_error([[0.5, 0.5, 0.0]], [0, 1])
