"""Reference normalisation and 3D-SSP extraction (Minoshima et al. 1995)."""
from __future__ import annotations

import numpy as np


def reference_means(volume: np.ndarray, reference_indices: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean count of ``volume`` in each reference region (flat voxel indices per region).

    Raises ValueError when a region has no counts: normalising by zero would make every Z
    meaningless, so the caller must reject the study instead.
    """
    flat = volume.reshape(-1)
    out: dict[str, float] = {}
    for name, idx in reference_indices.items():
        m = float(flat[idx].mean()) if idx.size else 0.0
        if not np.isfinite(m) or m <= 0:
            raise ValueError(f"reference region {name} has no counts")
        out[name] = m
    return out


def extract_ssp(volume: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Maximum along each surface pixel's inward normal: (P,) float32.

    ``samples`` is the (P, D) flat-index table built once per atlas and depth.
    """
    return volume.reshape(-1)[samples].max(axis=1).astype(np.float32)


def normalise(raw_ssp: np.ndarray, ref_means: dict[str, float], references: list[str]) -> np.ndarray:
    """(R, P) SSP values divided by each reference mean, rows in ``references`` order.

    The maximum commutes with a positive scale, so normalising the projection equals
    projecting the normalised volume, at a fraction of the cost.
    """
    scale = np.array([ref_means[r] for r in references], dtype=np.float32)
    return raw_ssp[None, :] / scale[:, None]
