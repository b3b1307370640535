"""The regional Z table as a feature vector (for the non-deep baseline and for reports).

Mean decrease Z per lobar region (``atlas.voi.REGION_TABLE``) for every reference region, from
the unthresholded surface Z map: the numbers a reader sees in the region table, not pixels.
"""
from __future__ import annotations

import numpy as np

from atlas import voi


class RegionFeatures:
    """Precomputed pixel sets of each region; ``__call__`` maps (R, P) Z to (R * regions,)."""

    def __init__(self, pixel_voi: np.ndarray, references: list[str]) -> None:
        self.references = list(references)
        self.regions = [rs.name for rs in voi.REGION_TABLE]
        self.masks = [np.isin(pixel_voi, [voi.LABELS[v] for v in rs.vois]) for rs in voi.REGION_TABLE]
        empty = [n for n, m in zip(self.regions, self.masks) if not m.any()]
        if empty:
            raise ValueError(f"regions without surface pixels: {', '.join(empty)}")
        # (regions, P) averaging matrix: one matrix product per study.
        w = np.stack(self.masks).astype(np.float32)
        self.weights = w / w.sum(axis=1, keepdims=True)

    @property
    def names(self) -> list[str]:
        return [f"{r}:{g}" for r in self.references for g in self.regions]

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """(R, P) Z -> (R * regions,) float32 regional mean Z, rows in ``references`` order."""
        if z.ndim != 2 or z.shape[0] != len(self.references):
            raise ValueError(f"expected Z of shape ({len(self.references)}, P), got {z.shape}")
        return (z.astype(np.float32) @ self.weights.T).reshape(-1)
