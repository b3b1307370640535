"""The paper's Table 1 metrics: per class precision TP/(TP+FP), recall TP/(TP+FN), F-measure
2PR/(P+R), overall accuracy, and their mean +- SD over training repeats. Numpy only."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def confusion(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> np.ndarray:
    """(n, n) counts: rows true class, columns predicted class."""
    t, p = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    if t.shape != p.shape:
        raise ValueError("y_true and y_pred must have the same length")
    if t.size and (t.min() < 0 or p.min() < 0 or max(t.max(), p.max()) >= n_classes):
        raise ValueError("labels must lie in [0, n_classes)")
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def scores(cm: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """Per class precision, recall, F-measure and overall accuracy from a confusion matrix.

    A class never predicted has precision 0 (no true positives among zero calls), as scikit-learn
    reports it with ``zero_division=0``; F is 0 when P + R is 0.
    """
    cm = np.asarray(cm, np.float64)
    tp = np.diag(cm)
    pred = cm.sum(axis=0)
    true = cm.sum(axis=1)
    out: dict[str, Any] = {"per_class": {}}
    for i, c in enumerate(classes):
        p = tp[i] / pred[i] if pred[i] > 0 else 0.0
        r = tp[i] / true[i] if true[i] > 0 else 0.0
        f = 2 * p * r / (p + r) if p + r > 0 else 0.0
        out["per_class"][c] = {"precision": float(p), "recall": float(r), "f_measure": float(f), "n": int(true[i])}
    total = cm.sum()
    out["accuracy"] = float(tp.sum() / total) if total > 0 else 0.0
    out["n"] = int(total)
    return out


def mean_sd(values: Sequence[float]) -> dict[str, float]:
    """Mean and sample SD (ddof = 1, as over the paper's 20 runs; 0 for a single run)."""
    v = np.asarray(values, np.float64)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0, "n": int(v.size)}


def aggregate(runs: Sequence[dict[str, Any]], classes: Sequence[str]) -> dict[str, Any]:
    """Mean +- SD over repeats of :func:`scores` outputs."""
    if not runs:
        raise ValueError("no runs to aggregate")
    out: dict[str, Any] = {"per_class": {}, "accuracy": mean_sd([r["accuracy"] for r in runs]), "repeats": len(runs)}
    for c in classes:
        out["per_class"][c] = {m: mean_sd([r["per_class"][c][m] for r in runs])
                               for m in ("precision", "recall", "f_measure")}
    return out


def fmt(ms: dict[str, float], digits: int = 2) -> str:
    """'0.68+-0.02' as in the paper's table."""
    return f"{ms['mean']:.{digits}f}+-{ms['sd']:.{digits}f}"
