"""The combined model: a weighted mean of the CNN ensemble's and the regional logistic
regression's probabilities, then one temperature on the log of that mixture, both chosen on the
simulated validation set only (log-loss), so that the combined probabilities mean what they say.

``combine`` is what inference applies; ``fit_combination`` is what training stores in the card.
Numpy and scipy only.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from models.metrics import expected_calibration_error

WEIGHT_GRID = tuple(round(w, 2) for w in np.arange(0.0, 1.0001, 0.05))   # CNN weight; regional 1 - w
# A validation set the model separates perfectly drives the best temperature towards 0 (every
# call certain); the lower bound keeps a sharpened mixture short of that.
T_BOUNDS = (0.25, 20.0)
EPS = 1e-7


def log_loss(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-probability of the true class."""
    p = np.asarray(probs, np.float64)
    return float(-np.log(np.clip(p[np.arange(len(labels)), labels], EPS, 1.0)).mean())


def mixture(cnn: np.ndarray, regional: np.ndarray, cnn_weight: float) -> np.ndarray:
    """(N, 3) ``w * cnn + (1 - w) * regional``, before the temperature."""
    return cnn_weight * np.asarray(cnn, np.float64) + (1.0 - cnn_weight) * np.asarray(regional, np.float64)


def combine(cnn: np.ndarray, regional: np.ndarray, cnn_weight: float, temperature: float) -> np.ndarray:
    """(N, 3) calibrated probabilities: softmax(log(w * cnn + (1 - w) * regional) / T)."""
    lg = np.log(np.clip(mixture(cnn, regional, cnn_weight), EPS, 1.0)) / temperature
    e = np.exp(lg - lg.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in ``T_BOUNDS`` that minimises the log-loss of softmax(log p / T)."""
    from scipy.optimize import minimize_scalar  # deferred: scipy.optimize costs start-up; only training fits
    lg = np.log(np.clip(np.asarray(probs, np.float64), EPS, 1.0))

    def nll(log_t: float) -> float:
        z = lg / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(-(z[np.arange(len(labels)), labels] - np.log(np.exp(z).sum(axis=1))).mean())

    res = minimize_scalar(nll, bounds=(np.log(T_BOUNDS[0]), np.log(T_BOUNDS[1])), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(res.x))


def fit_combination(cnn: np.ndarray, regional: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Choose the CNN weight (grid, validation log-loss of the mixture) and then the
    temperature; returns the card's ``calibration`` entry with the validation numbers before
    and after. ``cnn`` is the ensemble mean, ``regional`` the logistic regression, both (N, 3)."""
    labels = np.asarray(labels, np.int64)
    if len(labels) == 0 or cnn.shape != regional.shape or cnn.shape[0] != len(labels):
        raise ValueError("calibration needs (N, 3) CNN and regional probabilities with N > 0 labels")
    losses = [log_loss(mixture(cnn, regional, w), labels) for w in WEIGHT_GRID]
    w = float(WEIGHT_GRID[int(np.argmin(losses))])
    mixed = mixture(cnn, regional, w)
    t = fit_temperature(mixed, labels)
    final = combine(cnn, regional, w, t)

    def summary(p: np.ndarray) -> dict[str, float]:
        return {"accuracy": round(float((p.argmax(1) == labels).mean()), 4), "log_loss": round(log_loss(p, labels), 4),
                "ece": round(expected_calibration_error(p, labels), 4)}

    return {"method": "temperature on the log of the weighted mean of probabilities",
            "cnn_weight": w, "regional_weight": round(1.0 - w, 2), "temperature": round(t, 4),
            "fitted_on": "simulated validation set", "n": int(len(labels)),
            "weight_grid_log_loss": {f"{g:.2f}": round(v, 4) for g, v in zip(WEIGHT_GRID, losses)},
            "validation": {"cnn": summary(cnn), "regional": summary(regional),
                           "mixture": summary(mixed), "combined": summary(final)}}
