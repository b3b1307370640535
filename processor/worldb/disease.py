"""World B's disease patterns: which regions lose perfusion, by variant, from the clinical literature.

A pattern is a weight per region base (share of the study's severity); a variant may weight the
hemispheres differently. The loss is full inside the region's grey matter and fades outside it
as exp(-distance / lambda) (lambda drawn per study), applied to grey-matter perfusion only.
Sources and the project's choices are listed in docs/worldb.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from processor.worldb.regions import Regions

LABELS = ("NC", "AD", "DLB")
# Variant -> {region base: weight}. AD: temporoparietal association cortex with the posterior
# cingulate and precuneus; early AD: posterior cingulate and precuneus only. DLB: occipital
# (association, with or without primary visual cortex), often parietal; the posterior cingulate
# spared (cingulate island sign) or not.
_AD_CORE = {"ipl": 1.0, "pcc": 0.9, "precuneus": 0.9, "lateral_temporal": 0.55}
PATTERNS: dict[str, dict[str, dict[str, float]]] = {
    "AD": {
        "typical": _AD_CORE,
        "asymmetric": _AD_CORE,
        "early": {"pcc": 1.0, "precuneus": 0.9},
        "temporal": {**_AD_CORE, "lateral_temporal": 1.0, "medial_temporal": 0.8},
    },
    "DLB": {
        "occipital": {"v1": 1.0, "occipital_assoc": 1.0, "pcc": 0.05},
        "occipital_spared_v1": {"occipital_assoc": 1.0, "v1": 0.15, "pcc": 0.05},
        "parietal": {"v1": 0.9, "occipital_assoc": 1.0, "ipl": 0.75, "precuneus": 0.6, "pcc": 0.1},
        "no_cingulate_island": {"v1": 0.9, "occipital_assoc": 1.0, "precuneus": 0.7, "pcc": 0.8, "ipl": 0.4},
    },
}
VARIANT_P = {"AD": (0.4, 0.2, 0.2, 0.2), "DLB": (0.3, 0.2, 0.3, 0.2)}
VARIANTS = {label: tuple(p) for label, p in PATTERNS.items()}
ALL_VARIANTS = tuple(v for vs in VARIANTS.values() for v in vs)


@dataclass(frozen=True)
class DiseaseOptions:
    """Severity (fractional loss at weight 1) and edge ranges (project choice)."""

    severity: tuple[float, float] = (0.12, 0.32)
    early_severity: tuple[float, float] = (0.10, 0.25)
    weight_jitter: float = 0.2        # each weight times U(1 - j, 1 + j)
    edge_mm: tuple[float, float] = (3.0, 7.0)
    variant: str | None = None        # None: drawn


def draw_disease(rng: np.random.Generator, label: str, opts: DiseaseOptions | None = None) -> dict[str, Any]:
    """Variant, severity and per-region weights of one study (NC: no disease)."""
    o = opts or DiseaseOptions()
    # Always draw the same numbers in the same order, whatever the label and options.
    u_variant, u_sev, u_edge, u_side, u_other = rng.random(5)
    jitter = rng.uniform(1 - o.weight_jitter, 1 + o.weight_jitter, 16)
    if label == "NC":
        return {"variant": "normal", "severity": 0.0, "weights": {}, "edge_mm": 0.0}
    if label not in PATTERNS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}, got {label!r}")
    names = VARIANTS[label]
    if o.variant is not None:
        if o.variant not in names:
            raise ValueError(f"{label} variant must be one of {', '.join(names)}, got {o.variant!r}")
        variant = o.variant
    else:
        variant = names[int(np.searchsorted(np.cumsum(VARIANT_P[label]), u_variant * 0.999999))]
    lo, hi = o.early_severity if variant == "early" else o.severity
    severity = lo + u_sev * (hi - lo)
    weak_side = "L" if u_side < 0.5 else "R"
    weak_factor = 0.25 + 0.35 * u_other          # the less affected hemisphere (asymmetric AD)
    weights: dict[str, float] = {}
    for i, (base, w) in enumerate(sorted(PATTERNS[label][variant].items())):
        for side in ("L", "R"):
            f = weak_factor if variant == "asymmetric" and side == weak_side else 1.0
            weights[f"{base}_{side}"] = round(float(min(1.0, w * jitter[i] * f)), 4)
    edge = o.edge_mm[0] + u_edge * (o.edge_mm[1] - o.edge_mm[0])
    return {"variant": variant, "severity": round(float(severity), 4), "weights": weights,
            "edge_mm": round(float(edge), 3), **({"weak_side": weak_side} if variant == "asymmetric" else {})}


def loss_map(regions: Regions, disease: dict[str, Any], voxel_mm: float) -> np.ndarray:
    """Fractional loss of grey-matter perfusion per voxel (0 for NC): the largest over regions."""
    loss = np.zeros(regions.labels.shape, np.float32)
    for name, w in disease["weights"].items():
        if w <= 0:
            continue
        inside = regions.mask(name)
        d = ndimage.distance_transform_edt(~inside, sampling=voxel_mm).astype(np.float32)
        profile = np.exp(-d / np.float32(disease["edge_mm"]))
        np.maximum(loss, np.float32(disease["severity"] * w) * profile, out=loss)
    return loss
