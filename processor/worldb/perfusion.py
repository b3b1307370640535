"""World B's normal perfusion and its individual variation (pure numpy/scipy, no I/O).

Activity = GM fraction x regional grey-matter perfusion + WM fraction x white-matter perfusion
(CSF carries none). Deep grey nuclei are under-represented in the template's GM map, so their
whole tissue (GM + WM) takes the regional value. Every number is listed with its source in
docs/worldb.md; where a review gives only an order, the number is this project's choice.

Individual variation is of another form than world A's: a lognormal global level, independent
lognormal regional factors with a small left-right asymmetry per region, a low-order polynomial
gradient across the head, and an age effect on frontal and lateral temporal cortex.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from processor.worldb.anatomy import Anatomy
from processor.worldb.regions import BASE_NAMES, Regions

# Regional grey-matter perfusion relative to unlabelled cortical grey matter (= 1).
NORMAL_RATIO: dict[str, float] = {
    "pcc": 1.12, "precuneus": 1.08, "v1": 1.15, "occipital_assoc": 1.05, "ipl": 1.00,
    "lateral_temporal": 0.97, "medial_temporal": 0.82, "frontal": 1.00, "sensorimotor": 1.03,
    "thalamus": 1.08, "basal_ganglia": 1.10, "cerebellum": 1.10, "pons": 0.78,
}
WHOLE_TISSUE = ("thalamus", "basal_ganglia", "pons")   # GM + WM take the regional value
GM_TO_WM = 2.75            # grey / white matter perfusion (15O PET: about 2.5-3)
SMOOTH_FWHM_MM = 6.0       # perfusion changes across a region border over a few mm
AGE_FRONTAL_PER_DECADE = 0.015   # relative loss above 50 years, frontal and lateral temporal
AGE_REGIONS = ("frontal", "lateral_temporal")
assert set(NORMAL_RATIO) == set(BASE_NAMES)


@dataclass(frozen=True)
class VariationOptions:
    """Subject variation ranges (project choice, docs/worldb.md)."""

    global_sd: float = 0.12          # lognormal SD of the global uptake level
    regional_sd: float = 0.035       # lognormal SD of each region's factor
    asymmetry_sd: float = 0.015      # SD of the left-right difference of a region
    gradient_sd: float = 0.02        # SD of each polynomial coefficient (relative)
    age: tuple[float, float] = (55.0, 85.0)


def draw_subject(rng: np.random.Generator, opts: VariationOptions | None = None) -> dict[str, Any]:
    """Random subject parameters, drawn in a fixed order."""
    o = opts or VariationOptions()
    factors = {b: float(np.exp(rng.normal(0, o.regional_sd))) for b in BASE_NAMES}
    asym = {b: float(rng.normal(0, o.asymmetry_sd)) for b in BASE_NAMES}
    return {
        "global_level": float(np.exp(rng.normal(0, o.global_sd))),
        "regional_factor": factors,
        "asymmetry": asym,
        # x, y, z, x^2, y^2, z^2 coefficients on coordinates scaled to about [-1, 1]
        "gradient": [float(v) for v in rng.normal(0, o.gradient_sd, 6)],
        "age": round(float(rng.uniform(*o.age)), 1),
    }


def region_values(regions: Regions, subject: dict[str, Any]) -> dict[str, float]:
    """Grey-matter perfusion of every region of one subject (before disease)."""
    out = {}
    age_loss = max(0.0, subject["age"] - 50.0) / 10.0 * AGE_FRONTAL_PER_DECADE
    for name in regions.names:
        base, _, side = name.rpartition("_") if name != "pons" else ("pons", "", "")
        v = NORMAL_RATIO[base] * subject["regional_factor"][base]
        if side:
            v *= 1.0 + (0.5 if side == "L" else -0.5) * subject["asymmetry"][base]
        if base in AGE_REGIONS:
            v *= 1.0 - age_loss
        out[name] = float(v)
    return out


def gm_perfusion(anatomy: Anatomy, regions: Regions, values: dict[str, float],
                 subject: dict[str, Any]) -> np.ndarray:
    """Voxel grey-matter perfusion: regional values, smoothed across borders, times the gradient."""
    table = np.ones(len(regions.names) + 1, np.float32)
    for i, n in enumerate(regions.names):
        table[i + 1] = values[n]
    p = table[regions.labels]
    sigma = SMOOTH_FWHM_MM / 2.3548 / anatomy.voxel_mm
    w = anatomy.brain.astype(np.float32)
    p = ndimage.gaussian_filter(p * w, sigma) / np.maximum(ndimage.gaussian_filter(w, sigma), 1e-3)
    x, y, z = anatomy.mni_mm() / np.float32(80.0)
    c = subject["gradient"]
    field = 1.0 + c[0] * x + c[1] * y + c[2] * z + c[3] * (x * x - 0.33) + c[4] * (y * y - 0.33) \
        + c[5] * (z * z - 0.33)
    return (p * field).astype(np.float32)


def activity(anatomy: Anatomy, regions: Regions, gm_perf: np.ndarray) -> np.ndarray:
    """Tracer uptake per voxel from tissue fractions and the grey-matter perfusion map."""
    wm_value = np.float32(1.0 / GM_TO_WM)
    act = anatomy.gm * gm_perf + anatomy.wm * wm_value
    deep = np.isin(regions.labels, [regions.names.index(n) + 1 for b in WHOLE_TISSUE for n in regions.of_base(b)])
    act[deep] = ((anatomy.gm + anatomy.wm) * gm_perf)[deep]
    return np.where(anatomy.brain, act, 0.0).astype(np.float32)
