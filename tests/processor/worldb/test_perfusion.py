"""World B's normal perfusion: tissue and regional ratios as specified; variation as drawn."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from processor.worldb.anatomy import load_anatomy
from processor.worldb.perfusion import (GM_TO_WM, NORMAL_RATIO, VariationOptions, activity, draw_subject,
                                        gm_perfusion, region_values)
from processor.worldb.regions import build_regions

NEUTRAL = {"global_level": 1.0, "regional_factor": {b: 1.0 for b in NORMAL_RATIO},
           "asymmetry": {b: 0.0 for b in NORMAL_RATIO}, "gradient": [0.0] * 6, "age": 50.0}


@pytest.fixture(scope="module")
def normal():
    anatomy = load_anatomy()
    regions = build_regions(anatomy)
    values = region_values(regions, NEUTRAL)
    gm = gm_perfusion(anatomy, regions, values, NEUTRAL)
    return anatomy, regions, values, activity(anatomy, regions, gm), gm


def test_region_values_of_a_neutral_subject_are_the_published_ratios(normal):
    _, regions, values, _, _ = normal
    for name, v in values.items():
        base = "pons" if name == "pons" else name.rsplit("_", 1)[0]
        assert v == pytest.approx(NORMAL_RATIO[base]), name


def test_grey_to_white_ratio_in_pure_tissue(normal):
    anatomy, regions, _, act, _ = normal
    unlabelled = regions.labels == 0
    grey = act[(anatomy.gm > 0.9) & unlabelled].mean()
    white = act[(anatomy.wm > 0.95) & unlabelled].mean()
    assert grey / white == pytest.approx(GM_TO_WM, rel=0.12)


@pytest.mark.parametrize("base", ["pcc", "v1", "cerebellum", "medial_temporal"])
def test_regional_uptake_follows_the_ratio_in_grey_matter(normal, base):
    anatomy, regions, _, _, gm = normal
    core = ndimage.binary_erosion(regions.mask(f"{base}_L"))   # away from the smoothed border
    assert core.sum() > 50
    ratio = float(np.median(gm[core])) / float(np.median(gm[regions.mask("frontal_L")]))
    assert ratio == pytest.approx(NORMAL_RATIO[base] / NORMAL_RATIO["frontal"], abs=0.05), base


def test_subjects_vary_and_age_lowers_frontal_perfusion(normal):
    _, regions, _, _, _ = normal
    a = draw_subject(np.random.default_rng(1))
    b = draw_subject(np.random.default_rng(2))
    assert a != b and a == draw_subject(np.random.default_rng(1))
    old = dict(NEUTRAL, age=80.0)
    young, aged = region_values(regions, NEUTRAL), region_values(regions, old)
    assert aged["frontal_L"] < young["frontal_L"] and aged["v1_L"] == young["v1_L"]
    factors = [draw_subject(np.random.default_rng(i), VariationOptions())["global_level"] for i in range(200)]
    assert 0.08 < np.std(np.log(factors)) < 0.16
