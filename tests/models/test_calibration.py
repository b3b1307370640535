"""The combination and temperature fit on hand-made probabilities."""
from __future__ import annotations

import numpy as np
import pytest

from models.calibration import combine, fit_combination, fit_temperature, log_loss


def test_combine_is_the_weighted_mean_at_temperature_one():
    cnn = np.array([[0.7, 0.2, 0.1]])
    reg = np.array([[0.1, 0.6, 0.3]])
    assert combine(cnn, reg, 0.5, 1.0) == pytest.approx(np.array([[0.4, 0.4, 0.2]]))
    hot = combine(cnn, reg, 1.0, 2.0)[0]              # T = 2: the square roots, renormalised
    assert hot == pytest.approx(np.sqrt([0.7, 0.2, 0.1]) / np.sqrt([0.7, 0.2, 0.1]).sum())


def test_overconfident_probabilities_are_softened():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 400)
    # always 0.95 on a class that is right only 60 % of the time
    calls = np.where(rng.random(400) < 0.6, labels, (labels + 1) % 3)
    p = np.full((400, 3), 0.025)
    p[np.arange(400), calls] = 0.95
    t = fit_temperature(p, labels)
    assert t > 1.5
    assert combine(p, p, 1.0, t).max(axis=1).mean() == pytest.approx(0.6, abs=0.05)


def test_weight_goes_to_the_better_member():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 200)
    good = np.full((200, 3), 0.1)
    good[np.arange(200), labels] = 0.8
    noise = rng.dirichlet([1, 1, 1], 200)
    cal = fit_combination(noise, good, labels)       # the CNN is noise, the regional model good
    assert cal["cnn_weight"] <= 0.1 and cal["regional_weight"] >= 0.9
    assert cal["validation"]["combined"]["log_loss"] <= cal["validation"]["mixture"]["log_loss"] + 1e-6
    assert log_loss(good, labels) == pytest.approx(-np.log(0.8))
    with pytest.raises(ValueError):
        fit_combination(noise[:3], good[:2], labels[:3])
