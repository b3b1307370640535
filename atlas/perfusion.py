"""The 123I-IMP perfusion model shared by the SPECT template and the digital phantom.

Pure numpy. Relative regional flow as published for IMP/HMPAO SPECT in healthy adults:
grey matter high, white matter about a third of grey matter, CSF near zero; thalamus and
striatum as high as cortex; cerebellum slightly above cerebral cortex; the pons, mostly white
matter with nuclei, about half of cortex.
"""
from __future__ import annotations

import numpy as np

GM_LEVEL = 1.0
WM_LEVEL = 0.33
CSF_LEVEL = 0.02
DEEP_GM_LEVEL = 1.0      # thalamus, striatum
CEREBELLUM_FACTOR = 1.10
PONS_LEVEL = 0.55


def activity_map(gm: np.ndarray, wm: np.ndarray, brain: np.ndarray, labels: np.ndarray,
                 label_ids: dict[str, int]) -> np.ndarray:
    """Noise-free relative perfusion on the atlas grid (float32, cortex about 1.0)."""
    gm = np.clip(gm, 0, 1)
    wm = np.clip(wm, 0, 1)
    csf = np.clip(brain - gm - wm, 0, 1)
    act = GM_LEVEL * gm + WM_LEVEL * wm + CSF_LEVEL * csf
    deep = np.isin(labels, [label_ids[f"{b}_{s}"] for b in ("thalamus", "striatum") for s in "LR"])
    act[deep] = np.maximum(act[deep], DEEP_GM_LEVEL * (0.85 + 0.15 * gm[deep]))
    cbl = np.isin(labels, [label_ids["cerebellum_L"], label_ids["cerebellum_R"], label_ids["vermis"]])
    act[cbl] *= CEREBELLUM_FACTOR
    pons = labels == label_ids["pons"]
    act[pons] = np.maximum(act[pons], PONS_LEVEL)
    return (act * (brain > 0.5)).astype(np.float32)
