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


# -- calibration ----------------------------------------------------------------------------
def reliability_bins(probs: np.ndarray, labels: Sequence[int], bins: int = 10) -> list[dict[str, float]]:
    """Equal-width bins of the top-class probability (bin m holds (m/bins, (m+1)/bins], the
    first also 0): per bin the count, mean top probability and accuracy (empty bins have
    ``None``). The reliability diagram plots accuracy against mean probability."""
    p = np.asarray(probs, np.float64)
    y = np.asarray(labels, np.int64)
    if p.ndim != 2 or p.shape[0] != y.shape[0]:
        raise ValueError("probabilities must be (N, classes) with one label per row")
    conf = p.max(axis=1)
    hit = (p.argmax(axis=1) == y).astype(np.float64)
    edges = np.arange(bins + 1) / bins           # exact decimal edges: 0.6 sits in (0.5, 0.6]
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, bins - 1)
    out = []
    for m in range(bins):
        sel = idx == m
        n = int(sel.sum())
        out.append({"lo": m / bins, "hi": (m + 1) / bins, "n": n,
                    "confidence": float(conf[sel].mean()) if n else None,
                    "accuracy": float(hit[sel].mean()) if n else None})
    return out


def expected_calibration_error(probs: np.ndarray, labels: Sequence[int], bins: int = 10) -> float:
    """ECE (Guo et al. 2017): the count-weighted mean gap between accuracy and mean top-class
    probability over equal-width bins; 0 when the probabilities mean what they say."""
    cells = reliability_bins(probs, labels, bins)
    total = sum(c["n"] for c in cells)
    if total == 0:
        raise ValueError("no predictions")
    return float(sum(c["n"] * abs(c["accuracy"] - c["confidence"]) for c in cells if c["n"]) / total)
