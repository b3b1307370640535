"""Regional statistics on a Z surface map: mean Z, extent, eZIS-style indices, CIScore."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def region_table(z: np.ndarray, pixel_voi: np.ndarray, regions: Mapping[str, Sequence[int]],
                 threshold: float) -> dict[str, dict[str, float]]:
    """Per region: mean Z over its surface pixels and extent (% of them with Z > threshold)."""
    out: dict[str, dict[str, float]] = {}
    for name, ids in regions.items():
        sel = np.isin(pixel_voi, ids)
        if not sel.any():
            continue
        zr = z[sel]
        out[name] = {"mean_z": round(float(zr.mean()), 3),
                     "extent_pct": round(float(100.0 * (zr > threshold).mean()), 2)}
    return out


def ezis_indices(z: np.ndarray, in_voi: np.ndarray, threshold: float) -> dict[str, float]:
    """Severity, Extent, Ratio over a disease-specific VOI (Matsuda's eZIS definitions).

    Severity: mean of the positive Z in the VOI; Extent: % of VOI pixels with Z > threshold;
    Ratio: that extent over the extent in the whole brain (surface), so a focal VOI pattern
    scores above 1 and a diffuse one near 1.
    """
    zv = z[in_voi]
    pos = zv[zv > 0]
    severity = float(pos.mean()) if pos.size else 0.0
    extent = float(100.0 * (zv > threshold).mean()) if zv.size else 0.0
    whole = float(100.0 * (z > threshold).mean())
    ratio = extent / whole if whole > 0 else 0.0
    return {"severity": round(severity, 3), "extent": round(extent, 2), "ratio": round(ratio, 3)}


def cingulate_island_score(z: np.ndarray, pcc: np.ndarray, occipital: np.ndarray) -> float:
    """CIScore (after Imabayashi et al. 2016): mean positive Z in the posterior cingulate over
    that in the occipital VOI (cuneus and lingual). Low values (PCC spared while the occipital
    cortex is decreased) suggest DLB; 0 when the occipital VOI shows no decrease."""
    zp = np.clip(z[pcc], 0, None).mean() if pcc.any() else 0.0
    zo = np.clip(z[occipital], 0, None).mean() if occipital.any() else 0.0
    return round(float(zp / zo), 3) if zo > 0.05 else 0.0
