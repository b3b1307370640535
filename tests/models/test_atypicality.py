"""The "atypical for this database" distance on synthetic features with known classes."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from models.atypicality import FILE_NAME, METHOD, AtypicalityModel

NAMES = ["CB:frontal", "CB:parietal", "CB:temporal", "CB:occipital"]
CENTRES = np.array([[0.0, 2.0, 2.0, 0.0], [0.0, 1.0, 0.0, 3.0], [0.0, 0.0, 0.0, 0.0]])


def features(n_per_class: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(c, 0.3, (n_per_class, len(NAMES))) for c in CENTRES]).astype(np.float32)
    return x, np.repeat(np.arange(len(CENTRES)), n_per_class)


@pytest.fixture(scope="module")
def model() -> AtypicalityModel:
    x, y = features()
    return AtypicalityModel.fit(x, y, NAMES)


def test_class_means_are_typical_and_a_far_pattern_is_flagged(model):
    x, y = features()
    for c in range(len(CENTRES)):
        assert np.allclose(model.means[c], x[y == c].mean(axis=0))
        a = model.assess(CENTRES[c])
        assert not a.flagged and a.distance < 0.5
    far = model.assess(np.array([5.0, -3.0, 0.0, 0.0]))          # unlike every class
    assert far.flagged and far.distance > 10 * far.threshold / 2
    between = model.assess((CENTRES[0] + CENTRES[1]) / 2)        # between two classes: neither near
    assert between.flagged


def test_threshold_is_the_quantile_of_the_training_distances(model):
    x, y = features()
    d = model.distances(x)
    assert model.threshold == pytest.approx(float(np.quantile(d, 0.99)))
    assert model.flag_rate(x) == pytest.approx(0.01, abs=1 / len(x))
    assert AtypicalityModel.fit(x, y, NAMES, quantile=0.9).flag_rate(x) == pytest.approx(0.1, abs=1 / len(x))
    xv, _ = features(seed=1)                                      # unseen draws of the same classes
    assert model.flag_rate(xv) < 0.05


def test_distance_is_to_the_nearest_class_with_the_pooled_precision(model):
    p = np.array([0.1, 1.8, 2.2, 0.3])
    expected = min(float(np.sqrt((p - m) @ model.precision @ (p - m))) for m in model.means)
    assert model.distances(p)[0] == pytest.approx(expected)
    assert model.assess(p).distance == round(expected, 3)


def test_save_load_roundtrip(model, tmp_path):
    path = tmp_path / FILE_NAME
    path.write_bytes(model.to_bytes())
    back = AtypicalityModel.load(path, hashlib.sha256(path.read_bytes()).hexdigest())
    assert back.feature_names == tuple(NAMES) and back.quantile == model.quantile
    assert np.array_equal(back.means, model.means) and np.array_equal(back.precision, model.precision)
    x, _ = features(seed=2)
    assert np.array_equal(back.distances(x), model.distances(x)) and back.threshold == model.threshold


def test_tampered_or_invalid_file_is_refused(model, tmp_path):
    path = tmp_path / FILE_NAME
    path.write_bytes(model.to_bytes())
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    with open(path, "ab") as fh:
        fh.write(b"x")
    with pytest.raises(ValueError, match="does not match the sha256"):
        AtypicalityModel.load(path, sha)
    path.write_bytes(b"not an npz")
    with pytest.raises(ValueError, match="not a valid atypicality model"):
        AtypicalityModel.load(path, hashlib.sha256(b"not an npz").hexdigest())
    with pytest.raises(ValueError, match="cannot be read"):
        AtypicalityModel.load(tmp_path / "missing.npz", sha)
    buf = tmp_path / "short.npz"
    np.savez(buf, means=model.means, threshold=1.0)
    with pytest.raises(ValueError, match="lacks precision"):
        AtypicalityModel.load(buf, hashlib.sha256(buf.read_bytes()).hexdigest())


def test_mismatching_features_and_bad_fits_are_refused(model):
    with pytest.raises(ValueError, match="expected 4 regional features"):
        model.distances(np.zeros(5))
    x, y = features()
    with pytest.raises(ValueError, match="feature names"):
        AtypicalityModel.fit(x, y, NAMES[:3])
    with pytest.raises(ValueError, match="quantile"):
        AtypicalityModel.fit(x, y, NAMES, quantile=1.0)
    with pytest.raises(ValueError, match="do not fit"):
        AtypicalityModel(model.means, model.precision[:3, :3], 1.0, 0.99, tuple(NAMES))


def test_card_entry_reports_method_threshold_and_flag_rates(model):
    x, _ = features()
    xv, _ = features(seed=1)
    e = model.card_entry(FILE_NAME, "0" * 64, x, xv)
    assert e["method"] == METHOD and e["quantile"] == 0.99 and e["n_features"] == 4 and e["features"] == NAMES
    assert e["threshold"] == round(model.threshold, 4)
    assert e["flag_rate"]["training"] == pytest.approx(model.flag_rate(x), abs=1e-4)
    assert e["flag_rate"]["validation"] == pytest.approx(model.flag_rate(xv), abs=1e-4)


def test_grouped_fit_takes_the_threshold_from_distances_without_the_own_member():
    """Images of one member share its pattern: measured against a fit without that member,
    they lie farther, and the threshold is the quantile of those distances."""
    rng = np.random.default_rng(3)
    x, y = features(n_per_class=60)
    groups = np.tile(np.repeat(np.arange(6), 10), 3)
    x = x + rng.normal(0, 0.5, (6, len(NAMES)))[groups]        # a per-member offset shared by its images
    plain = AtypicalityModel.fit(x, y, NAMES)
    grouped = AtypicalityModel.fit(x, y, NAMES, groups=groups)
    assert np.array_equal(grouped.means, plain.means) and np.array_equal(grouped.precision, plain.precision)
    d = np.empty(len(y))
    for g in range(6):
        out = groups == g
        d[out] = AtypicalityModel.fit(x[~out], y[~out], NAMES).distances(x[out])
    assert grouped.threshold == pytest.approx(float(np.quantile(d, 0.99)))
    assert grouped.threshold > plain.threshold
    with pytest.raises(ValueError, match="one entry per training image"):
        AtypicalityModel.fit(x, y, NAMES, groups=groups[:-1])
