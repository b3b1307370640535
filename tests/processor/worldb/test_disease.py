"""World B's disease patterns lower perfusion where the literature says, and nowhere else."""
from __future__ import annotations

import numpy as np
import pytest

from processor.worldb.anatomy import load_anatomy
from processor.worldb.disease import PATTERNS, VARIANTS, DiseaseOptions, draw_disease, loss_map
from processor.worldb.regions import build_regions

FAR = {"AD": ("frontal", "cerebellum", "v1", "thalamus"), "DLB": ("frontal", "cerebellum", "medial_temporal",
                                                                   "thalamus", "lateral_temporal")}


@pytest.fixture(scope="module")
def regions():
    return build_regions(load_anatomy())


def _mean_loss(loss, regions, base):
    return float(np.mean([loss[regions.mask(n)].mean() for n in regions.of_base(base)]))


@pytest.mark.parametrize("label, variant", [(lab, v) for lab in ("AD", "DLB") for v in VARIANTS[lab]])
def test_loss_inside_the_pattern_and_not_far_from_it(regions, label, variant):
    d = draw_disease(np.random.default_rng(3), label, DiseaseOptions(variant=variant))
    assert d["variant"] == variant and 0.10 <= d["severity"] <= 0.32
    loss = loss_map(regions, d, 2.0)
    pattern = PATTERNS[label][variant]
    for base, w in pattern.items():
        expected = d["severity"] * w
        if w >= 0.5:
            assert _mean_loss(loss, regions, base) > 0.35 * expected, (base, _mean_loss(loss, regions, base))
    for base in FAR[label]:
        if base not in pattern:
            assert _mean_loss(loss, regions, base) < 0.03, (base, _mean_loss(loss, regions, base))


def test_cingulate_island_present_or_absent(regions):
    def pcc_vs_occipital(variant):
        d = draw_disease(np.random.default_rng(5), "DLB", DiseaseOptions(variant=variant))
        loss = loss_map(regions, d, 2.0)
        return _mean_loss(loss, regions, "pcc"), _mean_loss(loss, regions, "occipital_assoc")
    pcc, occ = pcc_vs_occipital("occipital")
    assert pcc < 0.4 * occ
    pcc, occ = pcc_vs_occipital("no_cingulate_island")
    assert pcc > 0.6 * occ


def test_v1_spared_variant_keeps_the_primary_visual_cortex(regions):
    d = draw_disease(np.random.default_rng(6), "DLB", DiseaseOptions(variant="occipital_spared_v1"))
    loss = loss_map(regions, d, 2.0)
    assert _mean_loss(loss, regions, "v1") < 0.6 * _mean_loss(loss, regions, "occipital_assoc")


def test_asymmetric_ad_spares_one_side_more(regions):
    d = draw_disease(np.random.default_rng(7), "AD", DiseaseOptions(variant="asymmetric"))
    loss = loss_map(regions, d, 2.0)
    weak, strong = d["weak_side"], "R" if d["weak_side"] == "L" else "L"
    assert loss[regions.mask(f"ipl_{weak}")].mean() < 0.7 * loss[regions.mask(f"ipl_{strong}")].mean()


def test_nc_has_no_loss_and_wrong_variants_are_refused(regions):
    d = draw_disease(np.random.default_rng(1), "NC")
    assert d["variant"] == "normal" and not d["weights"] and not loss_map(regions, d, 2.0).any()
    with pytest.raises(ValueError, match="DLB variant"):
        draw_disease(np.random.default_rng(1), "DLB", DiseaseOptions(variant="early"))
    drawn = {draw_disease(np.random.default_rng(i), "AD")["variant"] for i in range(40)}
    assert drawn == set(VARIANTS["AD"])
