"""Volumes of interest: the label table of the standard space.

Fine VOIs come from AAL2 (GIN Bordeaux, GPL) resampled to the MNI152 2009 2 mm grid; the pons,
which no bundled atlas labels, is defined geometrically (see ``build.define_pons``). The sets
below follow the seed paper: its AD and DLB simulation regions, its four reference regions,
and a lobar set for the region table.
"""
from __future__ import annotations

from dataclasses import dataclass

# (our VOI base name, AAL2 label names without side suffix)
FINE_VOIS: list[tuple[str, list[str]]] = [
    ("angular", ["Angular"]),
    ("supramarginal", ["SupraMarginal"]),
    ("superior_parietal", ["Parietal_Sup"]),
    ("inferior_parietal", ["Parietal_Inf"]),
    ("posterior_cingulate", ["Cingulate_Post"]),
    ("precuneus", ["Precuneus"]),
    ("superior_occipital", ["Occipital_Sup"]),
    ("middle_occipital", ["Occipital_Mid"]),
    ("inferior_occipital", ["Occipital_Inf"]),
    ("cuneus", ["Cuneus", "Calcarine"]),  # primary visual cortex lies along the calcarine sulcus
    ("lingual", ["Lingual"]),
    ("frontal", ["Frontal_Sup_2", "Frontal_Mid_2", "Frontal_Inf_Oper", "Frontal_Inf_Tri",
                 "Frontal_Inf_Orb_2", "Frontal_Sup_Medial", "Frontal_Med_Orb", "Rectus", "OFCmed",
                 "OFCant", "OFCpost", "OFClat", "Olfactory", "Supp_Motor_Area"]),
    ("sensorimotor", ["Precentral", "Postcentral", "Paracentral_Lobule", "Rolandic_Oper"]),
    ("lateral_temporal", ["Temporal_Sup", "Temporal_Mid", "Temporal_Inf", "Temporal_Pole_Sup",
                          "Temporal_Pole_Mid", "Heschl"]),
    ("medial_temporal", ["Hippocampus", "ParaHippocampal", "Amygdala"]),
    ("fusiform", ["Fusiform"]),
    ("anterior_cingulate", ["Cingulate_Ant"]),
    ("middle_cingulate", ["Cingulate_Mid"]),
    ("insula", ["Insula"]),
    ("striatum", ["Caudate", "Putamen", "Pallidum"]),
    ("thalamus", ["Thalamus"]),
    ("cerebellum", ["Cerebelum_Crus1", "Cerebelum_Crus2", "Cerebelum_3", "Cerebelum_4_5",
                    "Cerebelum_6", "Cerebelum_7b", "Cerebelum_8", "Cerebelum_9", "Cerebelum_10"]),
]
VERMIS_AAL = ["Vermis_1_2", "Vermis_3", "Vermis_4_5", "Vermis_6", "Vermis_7", "Vermis_8",
              "Vermis_9", "Vermis_10"]
SIDES = ("L", "R")


def _label_table() -> dict[str, int]:
    table: dict[str, int] = {}
    for i, (base, _) in enumerate(FINE_VOIS):
        for j, side in enumerate(SIDES):
            table[f"{base}_{side}"] = 1 + 2 * i + j
    table["vermis"] = 2 * len(FINE_VOIS) + 1
    table["pons"] = 2 * len(FINE_VOIS) + 2
    return table


LABELS: dict[str, int] = _label_table()
NAMES: dict[int, str] = {v: k for k, v in LABELS.items()}


def both(base: str) -> list[str]:
    return [f"{base}_{s}" for s in SIDES]


# The seed paper's simulation regions (PAPER.md): bilateral.
AD_REGIONS = [v for b in ("angular", "superior_parietal", "inferior_parietal", "supramarginal",
                          "posterior_cingulate", "precuneus") for v in both(b)]
DLB_REGIONS = [v for b in ("superior_occipital", "middle_occipital", "inferior_occipital",
                           "cuneus", "lingual") for v in both(b)]

# Reference regions for count normalisation. GLB is the whole brain mask.
REFERENCE_VOIS: dict[str, list[str]] = {
    "GLB": [],  # special: whole brain mask
    "THL": both("thalamus"),
    "PNS": ["pons"],
    "CBL": both("cerebellum") + ["vermis"],
}


@dataclass(frozen=True)
class RegionSet:
    """A named union of fine VOIs reported in the region table."""

    name: str
    vois: tuple[str, ...]


def _lobar() -> list[RegionSet]:
    groups = {
        "frontal": ["frontal", "anterior_cingulate"],
        "sensorimotor": ["sensorimotor"],
        "parietal": ["angular", "supramarginal", "superior_parietal", "inferior_parietal"],
        "precuneus": ["precuneus"],
        "posterior_cingulate": ["posterior_cingulate"],
        "lateral_temporal": ["lateral_temporal"],
        "medial_temporal": ["medial_temporal", "fusiform"],
        "occipital": ["superior_occipital", "middle_occipital", "inferior_occipital"],
        "cuneus_lingual": ["cuneus", "lingual"],
        "cerebellum": ["cerebellum"],
    }
    out = []
    for name, bases in groups.items():
        for side in SIDES:
            out.append(RegionSet(f"{name}_{side}", tuple(f"{b}_{side}" for b in bases)))
    return out


REGION_TABLE: list[RegionSet] = _lobar()
# eZIS-style AD-specific VOI (posterior cingulate, precuneus, parietal association cortex).
AD_SPECIFIC = RegionSet("ad_specific", tuple(AD_REGIONS))
# Cingulate island sign: posterior cingulate vs occipital (cuneus + lingual, the primary visual area).
CIS_NUMERATOR = RegionSet("posterior_cingulate", tuple(both("posterior_cingulate")))
CIS_DENOMINATOR = RegionSet("cuneus_lingual", tuple(both("cuneus") + both("lingual")))
