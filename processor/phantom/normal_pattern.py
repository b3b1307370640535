"""The phantom's normal perfusion pattern: ``phantom`` (the bundled model's) or ``published``.

``phantom`` is :func:`atlas.perfusion.activity_map` unchanged: every cortical VOI at one grey
matter level. Real normal perfusion SPECT is not flat: the medial occipital (visual) cortex
and the posteromedial cortex (posterior cingulate, precuneus) are among the highest cortical
regions and the medial temporal lobe is lower than the rest of the cortex. ``published`` is the
phantom model times a smooth regional factor that moves the noise-free VOI means towards
published normal values, and it lets the age-like decline reach the regions where normal
databases found it. docs/phantom-calibration.md lists every number with its source and says
which are read from a paper and which are project choices (directions from a paper, sizes
chosen); scripts/calibration_figure.py measures the result.

The factor uses no random draw, so a seed gives the same subject under either pattern.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from atlas import voi
from atlas.load import Atlas
from processor.phantom.regional import regional_factor

NORMAL_PATTERNS = ("phantom", "published")

# published / phantom activity per VOI base name (both sides); 1.0 elsewhere.
PUBLISHED_FACTOR: dict[str, float] = {
    # Visual cortex high: Devous 1986 (highest flows incl. visual cortex, 133Xe SPECT) and
    # Kawashima 1996 / Koyama 1997 (ECD highest in the medial occipital lobe). Sizes: choice.
    "cuneus": 1.10,            # cuneus + calcarine (primary visual cortex)
    "lingual": 1.06,
    # Posteromedial cortex high: Cavanna & Trimble 2006 (precuneus and posteromedial cortex among
    # the highest resting metabolic rates). Sizes: choice.
    "posterior_cingulate": 1.10,
    "precuneus": 1.06,
    # Medial temporal / global cortex 93.9 +- 2.4 % (HMPAO, Oku 1997, read; IMP taken as HMPAO, as
    # docs/tracers.md does). The atlas labels the hippocampal formation as grey matter (mean GM
    # fraction 0.72 against 0.56 in the frontal VOI), so the phantom pattern reads 1.17 there. 0.70
    # (a choice: the largest cut taken without a tissue-level source) brings the noise-free VOI
    # ratio to 0.98 at 12 mm FWHM and 0.89 unblurred; the 12 mm value stays 0.04 above the paper.
    "medial_temporal": 0.70,
}
EDGE_FWHM_MM = 6.0   # the factor changes smoothly across VOI borders (as the ECD factor)

# Regions the age-like decline reaches (VOI base name -> share of the per-decade rate).
# phantom: frontal and anterior cingulate. published adds the insula and the striatum
# (Van Laere 2001 ECD, Goto 1998 HMPAO, Nihon Ronen Igakkai Zasshi 2000;37:49 ECD: directions;
# shares: choice).
AGE_REGIONS: dict[str, dict[str, float]] = {
    "phantom": {"frontal": 1.0, "anterior_cingulate": 1.0},
    "published": {"frontal": 1.0, "anterior_cingulate": 1.0, "insula": 1.0, "striatum": 0.7},
}

def check_normal_pattern(pattern: str) -> str:
    if pattern not in NORMAL_PATTERNS:
        raise ValueError(f"normal_pattern must be one of {', '.join(NORMAL_PATTERNS)}, got {pattern!r}")
    return pattern


def pattern_factor(atlas: Atlas, pattern: str) -> np.ndarray | None:
    """The multiplicative map from the phantom pattern to ``pattern`` (None for ``phantom``).

    Cached per atlas; callers must not modify it.
    """
    if check_normal_pattern(pattern) == "phantom":
        return None
    ratios = {voi.LABELS[f"{base}_{side}"]: r for base, r in PUBLISHED_FACTOR.items() for side in voi.SIDES}
    return regional_factor(atlas, f"pattern:{pattern}", ratios, EDGE_FWHM_MM)


def age_regions(pattern: str) -> dict[str, float]:
    """{VOI base name: share} of the age-like decline under ``pattern``."""
    return AGE_REGIONS[check_normal_pattern(pattern)]


# Regions the calibration is measured in (name -> VOI base names, both sides); "white_matter"
# is the deep white matter (atlas WM fraction > 0.9), "cerebellum" includes the vermis and
# "cerebrum" is every brain voxel outside the cerebellum, grey and white (pons included): what
# cerebellum-normalised "global" or all-region means of the literature compare with.
CORTEX = ("frontal", "sensorimotor", "angular", "supramarginal", "superior_parietal", "inferior_parietal",
          "precuneus", "posterior_cingulate", "anterior_cingulate", "middle_cingulate", "lateral_temporal",
          "fusiform", "superior_occipital", "middle_occipital", "inferior_occipital", "cuneus", "lingual",
          "insula")
MEASURED: dict[str, tuple[str, ...]] = {
    "cerebral_cortex": CORTEX,
    "cerebrum": (),
    "frontal": ("frontal",),
    "anterior_cingulate": ("anterior_cingulate",),
    "sensorimotor": ("sensorimotor",),
    "parietal": ("angular", "supramarginal", "superior_parietal", "inferior_parietal"),
    "precuneus": ("precuneus",),
    "posterior_cingulate": ("posterior_cingulate",),
    "lateral_temporal": ("lateral_temporal",),
    "medial_temporal": ("medial_temporal",),
    "lateral_occipital": ("superior_occipital", "middle_occipital", "inferior_occipital"),
    "cuneus_calcarine": ("cuneus",),
    "lingual": ("lingual",),
    "insula": ("insula",),
    "striatum": ("striatum",),
    "thalamus": ("thalamus",),
    "cerebellum": ("cerebellum",),
    "white_matter": (),
}
MEASURE_FWHM_MM = 12.0   # SPECT-like resolution of the measurement (the scanner draws 10-16 mm)


def regional_means(activity: np.ndarray, atlas: Atlas, fwhm_mm: float = MEASURE_FWHM_MM) -> dict[str, float]:
    """Mean of ``activity`` in each MEASURED region after a Gaussian blur of ``fwhm_mm`` (0: none):
    what a noise-free SPECT of the subject shows through the atlas VOIs."""
    act = activity
    if fwhm_mm > 0:
        act = ndimage.gaussian_filter(activity, fwhm_mm / 2.3548 / float(abs(atlas.affine[0, 0])), truncate=3.0)
    out = {}
    for name, bases in MEASURED.items():
        if name == "white_matter":
            mask = (atlas.wm > 0.9) & atlas.brain
        elif name == "cerebrum":
            mask = atlas.brain & ~atlas.voi_mask([f"cerebellum_{s}" for s in voi.SIDES] + ["vermis"])
        else:
            names = [f"{b}_{s}" for b in bases for s in voi.SIDES] + (["vermis"] if name == "cerebellum" else [])
            mask = atlas.voi_mask(names)
        out[name] = float(act[mask].mean())
    return out
