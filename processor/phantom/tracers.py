"""The phantom's tracers: 123I-IMP (the base model) and 99mTc-ECD, and how each is written to DICOM.

The perfusion model (:func:`atlas.perfusion.activity_map`) is 123I-IMP's. ECD is that model
times a smooth regional factor. No study found compares ECD with IMP directly, so the factors
come from ECD-versus-HMPAO comparisons, taking HMPAO as a stand-in for IMP in these regions
(an assumption; docs/tracers.md gives the sources and says which numbers are measured and
which are assumed):

- medial temporal lobe 0.885: Oku et al., J Nucl Med 1997;38:1109-1111, medial temporal /
  global cortex 83.1 % with ECD against 93.9 % with HMPAO (83.1 / 93.9);
- medial occipital (cuneus, calcarine, lingual) higher, lateral occipital and parietal slightly
  higher: direction from "SPECT imaging of normal subjects with Tc-99m-HMPAO and Tc-99m-ECD",
  J Nucl Med 1997 ("Koyama 1997": ECD high in the medial occipital lobe) and Oku 1997 (ECD more
  in occipital and parietal lobes); sizes assumed;
- thalamus, basal ganglia, cerebellum and lateral temporal lower: direction from Oku 1997
  (HMPAO more in thalamus, temporal lobe, cerebellum) and Koyama 1997 (HMPAO high in basal
  ganglia and cerebellum); sizes assumed.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from atlas import voi
from atlas.load import Atlas
from processor.phantom.regional import regional_factor

TRACERS = ("IMP", "ECD")

# ECD / IMP activity per VOI base name (both sides); 1.0 elsewhere. See the module docstring.
ECD_VS_IMP: dict[str, float] = {
    "medial_temporal": 0.885,                                        # Oku 1997 (measured, via HMPAO)
    "cuneus": 1.06, "lingual": 1.06,                                 # direction: Koyama 1997, Oku 1997
    "superior_occipital": 1.03, "middle_occipital": 1.03, "inferior_occipital": 1.03,
    "superior_parietal": 1.02, "inferior_parietal": 1.02, "angular": 1.02, "supramarginal": 1.02,
    "precuneus": 1.02,                                               # direction: Oku 1997
    "thalamus": 0.93, "striatum": 0.95, "cerebellum": 0.95,          # direction: Oku 1997, Koyama 1997
    "lateral_temporal": 0.97,                                        # direction: Oku 1997
}
ECD_VERMIS = 0.95
EDGE_FWHM_MM = 6.0   # the factor changes smoothly across VOI borders (assumed)

# How each tracer is written in the NM Isotope module. Codes as pydicom 3.0 ships DICOM PS3.16
# (CID 25 radiopharmaceuticals, CID 18 radionuclides): pydicom/sr/_concepts_dict.py.
HEADER: dict[str, dict[str, Any]] = {
    "IMP": {"text": "Iofetamine", "code": ("78481003", "SCT", "Iofetamine I^123^ hydrochloride"),
            "nuclide": ("21572004", "SCT", "^123^Iodine"), "window": ("143.1", "174.9", "I123 159keV 20%"),
            "half_life_s": "47604.6",                               # 13.2235 h
            "study": "Brain perfusion SPECT 123I-IMP", "series": "Brain IMP SPECT recon"},
    "ECD": {"text": "Bicisate", "code": ("766886003", "SCT", "Technetium Tc^99m^ bicisate"),
            "nuclide": ("72454006", "SCT", "^99m^Technetium"), "window": ("126.45", "154.55", "Tc99m 140keV 20%"),
            "half_life_s": "21672",                                 # 6.02 h (Tc-99m, FDA label)
            "study": "Brain perfusion SPECT 99mTc-ECD", "series": "Brain ECD SPECT recon"},
}

def check_tracer(tracer: str) -> str:
    if tracer not in TRACERS:
        raise ValueError(f"tracer must be one of {', '.join(TRACERS)}, got {tracer!r}")
    return tracer


def tracer_factor(atlas: Atlas, tracer: str) -> np.ndarray | None:
    """The multiplicative map from the IMP model to ``tracer`` on the atlas grid (None for IMP).

    Cached per atlas; callers must not modify it.
    """
    if check_tracer(tracer) == "IMP":
        return None
    ratios = {voi.LABELS[f"{base}_{side}"]: r for base, r in ECD_VS_IMP.items() for side in voi.SIDES}
    ratios[voi.LABELS["vermis"]] = ECD_VERMIS
    return regional_factor(atlas, f"tracer:{tracer}", ratios, EDGE_FWHM_MM)
