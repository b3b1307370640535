"""Atypical for this database: how far a study's regional Z table lies from every pattern the
model was trained on (the simulated normals and the simulated AD and DLB patterns).

The distance is the Mahalanobis distance to the NEAREST class mean, with one pooled
within-class covariance (Ledoit-Wolf shrinkage, so the 80-value table, 20 lobar regions x 4
references, still gives a well-conditioned precision matrix with a few hundred training images). A study near any class mean
is typical, whatever its class; one far from all of them is a pattern the classifier never saw
(another disease, an artefact, a normal pattern of another population), and its class would be
forced. The threshold is a quantile of the training images' own distances, so by construction
about ``1 - quantile`` of the training images are flagged; the validation flag rate says
whether that holds on images the fit did not see.

Numpy only at inference (scikit-learn is imported by :meth:`AtypicalityModel.fit` alone).
"""
from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FILE_NAME = "atypicality.npz"
METHOD = "nearest-class Mahalanobis on the regional Z table (Ledoit-Wolf pooled covariance)"
DEFAULT_QUANTILE = 0.99
_KEYS = ("means", "precision", "threshold", "quantile", "feature_names")


@dataclass(frozen=True)
class Atypicality:
    """result.json ``classification.atypical``: the study's distance, the threshold and
    whether the distance is above it."""

    distance: float
    threshold: float
    flagged: bool


@dataclass(frozen=True)
class AtypicalityModel:
    """Class means (C, F), the pooled precision matrix (F, F), the distance threshold and the
    feature names the means were computed on (``RegionFeatures.names`` of the training set)."""

    means: np.ndarray
    precision: np.ndarray
    threshold: float
    quantile: float
    feature_names: tuple[str, ...]

    def __post_init__(self) -> None:
        f = len(self.feature_names)
        if (self.means.ndim != 2 or self.means.shape[1] != f or self.precision.shape != (f, f)
                or not np.all(np.isfinite(self.means)) or not np.all(np.isfinite(self.precision))):
            raise ValueError(f"the atypicality model's means {self.means.shape} and precision matrix "
                             f"{self.precision.shape} do not fit its {f} feature names or are not finite")
        if not (np.isfinite(self.threshold) and self.threshold > 0 and 0 < self.quantile < 1):
            raise ValueError(f"the atypicality threshold {self.threshold} or quantile {self.quantile} is invalid")

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, feature_names: list[str],
            quantile: float = DEFAULT_QUANTILE, groups: np.ndarray | None = None) -> AtypicalityModel:
        """Fit on (N, F) training features with (N,) integer class labels.

        The threshold is the ``quantile`` of the training images' nearest-class distances.
        With ``groups`` (the normal-database member each simulated image was made from) those
        distances are cross-fitted: each member's images are measured against means and a
        covariance fitted without that member. Every simulated image of a member shares its
        normal pattern, so in-sample distances understate how far a new subject lies (in the
        tiny CI training, an in-sample threshold flagged every validation image)."""
        x = np.asarray(features, np.float64)
        y = np.asarray(labels, np.int64)
        if x.ndim != 2 or len(x) != len(y) or x.shape[1] != len(feature_names):
            raise ValueError("atypicality needs (N, F) features, N labels and F feature names")
        if not 0 < quantile < 1:
            raise ValueError(f"the atypicality quantile must lie in (0, 1), got {quantile}")
        n_classes = int(y.max()) + 1 if len(y) else 0
        means, precision = _means_precision(x, y, n_classes)
        g = None if groups is None else np.asarray(groups)
        if g is None or len(np.unique(g)) < 2:
            d = nearest_distance(x, means, precision)
        else:
            if len(g) != len(y):
                raise ValueError("atypicality groups must have one entry per training image")
            d = np.empty(len(y))
            for member in np.unique(g):
                out = g == member
                d[out] = nearest_distance(x[out], *_means_precision(x[~out], y[~out], n_classes))
        return cls(means, precision, float(np.quantile(d, quantile)), float(quantile), tuple(feature_names))

    def distances(self, features: np.ndarray) -> np.ndarray:
        """(N,) nearest-class Mahalanobis distances of (N, F) (or one (F,)) feature vectors."""
        x = np.atleast_2d(np.asarray(features, np.float64))
        if x.shape[1] != len(self.feature_names):
            raise ValueError(f"expected {len(self.feature_names)} regional features, got {x.shape[1]}")
        return nearest_distance(x, self.means, self.precision)

    def flagged(self, features: np.ndarray) -> np.ndarray:
        """(N,) bool: which feature vectors lie farther than the threshold."""
        return self.distances(features) > self.threshold

    def flag_rate(self, features: np.ndarray) -> float:
        """Share of the feature vectors whose distance is above the threshold."""
        return float(self.flagged(features).mean()) if len(features) else 0.0

    def assess(self, features: np.ndarray) -> Atypicality:
        """One study's (F,) regional Z table as result.json reports it (3 decimals)."""
        d = float(self.distances(features)[0])
        return Atypicality(round(d, 3), round(self.threshold, 3), bool(d > self.threshold))

    # -- the file ---------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The ``atypicality.npz`` content (no pickled objects)."""
        buf = io.BytesIO()
        np.savez(buf, means=self.means, precision=self.precision, threshold=np.float64(self.threshold),
                 quantile=np.float64(self.quantile), feature_names=np.array(self.feature_names, dtype=str))
        return buf.getvalue()

    @classmethod
    def load(cls, path: Path, sha256: str) -> AtypicalityModel:
        """Read ``path`` once its sha256 matches the model card's; ValueError otherwise."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"atypicality file {path.name} listed in the model card cannot be read: "
                             f"{exc.strerror or exc}") from None
        if hashlib.sha256(raw).hexdigest() != sha256:
            raise ValueError(f"atypicality file {path.name} does not match the sha256 in the model card")
        try:
            with np.load(io.BytesIO(raw), allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:   # not an npz of plain arrays
            raise ValueError(f"atypicality file {path.name} is not a valid atypicality model: {exc}") from None
        missing = [k for k in _KEYS if k not in arrays]
        if missing:
            raise ValueError(f"atypicality file {path.name} lacks {', '.join(missing)}")
        return cls(arrays["means"].astype(np.float64), arrays["precision"].astype(np.float64),
                   float(arrays["threshold"]), float(arrays["quantile"]), tuple(str(n) for n in arrays["feature_names"]))

    def card_entry(self, file_name: str, sha256: str, training: np.ndarray, validation: np.ndarray,
                   threshold_from: str = "the training images' distances") -> dict[str, Any]:
        """The model card's ``atypicality`` entry, with the flag rates of the training and
        validation features (with the final fit: in-sample for training) and where the
        threshold's quantile was taken."""
        return {"file": file_name, "sha256": sha256, "method": METHOD, "quantile": self.quantile,
                "threshold": round(self.threshold, 4), "threshold_from": threshold_from,
                "n_features": len(self.feature_names),
                "features": list(self.feature_names),
                "flag_rate": {"training": round(self.flag_rate(training), 4),
                              "validation": round(self.flag_rate(validation), 4)}}


def _means_precision(x: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Class means (C, F) and the Ledoit-Wolf precision of the class-centred features."""
    from sklearn.covariance import LedoitWolf  # deferred: scikit-learn costs ~1 s, only to train
    counts = np.bincount(y, minlength=n_classes) if len(y) else np.zeros(0, np.int64)
    if n_classes == 0 or counts.min() < 2:
        raise ValueError("atypicality needs at least two training images of every class")
    means = np.stack([x[y == c].mean(axis=0) for c in range(n_classes)])
    return means, LedoitWolf(assume_centered=True).fit(x - means[y]).precision_


def nearest_distance(x: np.ndarray, means: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """(N,) min over classes of sqrt((x - m)^T P (x - m))."""
    diff = x[:, None, :] - means[None, :, :]                       # (N, C, F)
    d2 = np.einsum("ncf,fg,ncg->nc", diff, precision, diff)
    return np.sqrt(np.clip(d2.min(axis=1), 0.0, None))
