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
        # Pixels sorted by region, so each mean is one contiguous slice (reduceat).
        lab = np.full(pixel_voi.shape, -1, np.int64)
        for i, m in enumerate(self.masks):
            lab[m & (lab < 0)] = i
        keep = np.flatnonzero(lab >= 0)
        self.order = keep[np.argsort(lab[keep], kind="stable")]
        counts = np.bincount(lab[keep], minlength=len(self.masks))
        self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.counts = counts.astype(np.float32)

    @property
    def names(self) -> list[str]:
        return [f"{r}:{g}" for r in self.references for g in self.regions]

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """(R, P) Z -> (R * regions,) float32 regional mean Z, rows in ``references`` order."""
        if z.ndim != 2 or z.shape[0] != len(self.references):
            raise ValueError(f"expected Z of shape ({len(self.references)}, P), got {z.shape}")
        sums = np.add.reduceat(z[:, self.order].astype(np.float64), self.starts, axis=1)
        return (sums / self.counts[None, :]).astype(np.float32).reshape(-1)
