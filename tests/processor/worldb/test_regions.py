"""World B's regions: every one non-empty, inside the brain, symmetric, in the right tissue."""
from __future__ import annotations

import numpy as np
import pytest

from processor.worldb.anatomy import load_anatomy
from processor.worldb.regions import BASE_NAMES, DEEP, GM_MIN, build_regions, region_names, seeds


@pytest.fixture(scope="module")
def world():
    anatomy = load_anatomy()
    return anatomy, build_regions(anatomy)


def test_every_region_is_non_empty_inside_the_brain_and_on_its_side(world):
    anatomy, regions = world
    x = anatomy.mni_mm()[0]
    assert regions.names == region_names() and len(regions.names) == 2 * len(BASE_NAMES) - 1
    for name in regions.names:
        m = regions.mask(name)
        assert m.sum() * anatomy.voxel_mm ** 3 > 3000, name          # at least 3 ml
        assert anatomy.brain[m].all(), name
        if name.endswith("_L"):
            assert (x[m] < 0).all(), name
        elif name.endswith("_R"):
            assert (x[m] > 0).all(), name


def test_hemispheres_mirror_each_other_and_cortex_is_grey_matter(world):
    anatomy, regions = world
    for base in BASE_NAMES:
        if base == "pons":
            continue
        left, right = regions.mask(f"{base}_L"), regions.mask(f"{base}_R")
        assert abs(int(left.sum()) - int(right.sum())) <= 0.02 * left.sum(), base
        if base not in DEEP:
            assert (anatomy.gm[left] >= GM_MIN).all(), base


@pytest.mark.parametrize("name, lo, hi", [
    ("pcc_L", (-20, -70, 0), (0, -35, 40)), ("v1_R", (0, -110, -10), (18, -68, 18)),
    ("thalamus_L", (-25, -35, -5), (0, 0, 20)), ("cerebellum_R", (0, -95, -70), (60, -30, -5)),
    ("pons", (-12, -37, -44), (12, -13, -22)), ("frontal_R", (0, -5, -25), (70, 80, 75)),
])
def test_regions_lie_where_the_literature_puts_them(world, name, lo, hi):
    anatomy, regions = world
    xyz = anatomy.mni_mm()[:, regions.mask(name)]
    centroid = xyz.mean(axis=1)
    assert np.all(centroid >= lo) and np.all(centroid <= hi), (name, centroid)


def test_seeds_are_mirrored():
    s = seeds("pcc")
    assert len(s) % 2 == 0 and np.allclose(np.sort(s[:, 0]), np.sort(-s[:, 0]))
