"""spectssp.core.regions: region table, eZIS indices, cingulate island score."""
from __future__ import annotations

import numpy as np
import pytest

from spectssp.core.regions import cingulate_island_score, ezis_indices, region_table


def test_region_table_mean_and_extent_on_hand_made_arrays():
    z = np.array([3.0, 1.0, 2.0, 2.5, -1.0, 0.0, 5.0, 4.0])
    pixel_voi = np.array([1, 1, 1, 1, 2, 2, 3, 0])
    regions = {"a": [1], "b": [2], "ab": [1, 2], "c": [3], "absent": [9]}
    t = region_table(z, pixel_voi, regions, threshold=2.0)
    assert t["a"] == {"mean_z": pytest.approx(2.125), "extent_pct": pytest.approx(50.0)}  # 3, 2.5 > 2; 2 is not
    assert t["b"] == {"mean_z": pytest.approx(-0.5), "extent_pct": pytest.approx(0.0)}
    assert t["ab"]["mean_z"] == pytest.approx(7.5 / 6, abs=1e-3)
    assert t["ab"]["extent_pct"] == pytest.approx(100 * 2 / 6, abs=0.01)
    assert t["c"] == {"mean_z": pytest.approx(5.0), "extent_pct": pytest.approx(100.0)}
    # a region without surface pixels is left out rather than reported as 0
    assert "absent" not in t
    # label 0 (outside every VOI) counts in no region
    assert set(t) == {"a", "b", "ab", "c"}


def test_region_table_threshold_is_strict():
    z = np.array([2.0, 2.0, 2.0001])
    t = region_table(z, np.array([1, 1, 1]), {"r": [1]}, threshold=2.0)
    assert t["r"]["extent_pct"] == pytest.approx(33.33, abs=0.01)


def test_ezis_indices_hand_made():
    # 10 surface pixels; VOI = first 4
    z = np.array([3.0, 1.0, -2.0, 2.5, 0.0, 0.0, 0.0, 0.0, 2.5, 0.0])
    in_voi = np.zeros(10, bool)
    in_voi[:4] = True
    ind = ezis_indices(z, in_voi, threshold=2.0)
    assert ind["severity"] == pytest.approx((3.0 + 1.0 + 2.5) / 3, abs=1e-3)  # positive Z only
    assert ind["extent"] == pytest.approx(50.0)     # 2 of 4 VOI pixels above 2
    whole = 100 * 3 / 10                             # 3 of 10 pixels above 2 in the whole brain
    assert ind["ratio"] == pytest.approx(50.0 / whole, abs=1e-3)


def test_ezis_focal_pattern_ratio_above_diffuse():
    rng = np.random.default_rng(0)
    n = 1000
    in_voi = np.zeros(n, bool)
    in_voi[:100] = True
    focal = rng.normal(0, 0.5, n)
    focal[:100] += 3.0
    diffuse = rng.normal(0, 0.5, n) + 3.0
    r_focal = ezis_indices(focal, in_voi, 2.0)["ratio"]
    r_diffuse = ezis_indices(diffuse, in_voi, 2.0)["ratio"]
    assert r_focal > 5.0
    assert r_diffuse == pytest.approx(1.0, abs=0.1)


def test_ezis_no_decrease_gives_zeros():
    z = -np.abs(np.linspace(0, 3, 20))
    ind = ezis_indices(z, np.ones(20, bool), 2.0)
    assert ind == {"severity": 0.0, "extent": 0.0, "ratio": 0.0}


def _cis_case(z_pcc: float, z_occ: float) -> float:
    z = np.zeros(30)
    pcc = np.zeros(30, bool)
    occ = np.zeros(30, bool)
    pcc[:10] = True
    occ[10:20] = True
    z[:10] = z_pcc
    z[10:20] = z_occ
    z[20:] = 4.0  # elsewhere: must not matter
    return cingulate_island_score(z, pcc, occ)


def test_ciscore_pcc_spared_occipital_decreased_is_low():
    dlb = _cis_case(z_pcc=0.3, z_occ=3.0)
    ad = _cis_case(z_pcc=3.0, z_occ=0.5)
    assert dlb == pytest.approx(0.1, abs=1e-3)
    assert ad == pytest.approx(6.0, abs=1e-3)
    assert dlb < 0.5 < ad


def test_ciscore_ignores_increases():
    # negative Z (increase) in the PCC is clipped to 0: a fully spared PCC scores 0
    assert _cis_case(z_pcc=-2.0, z_occ=3.0) == pytest.approx(0.0)


def test_ciscore_without_occipital_decrease_is_zero():
    assert _cis_case(z_pcc=2.0, z_occ=0.0) == 0.0
    assert _cis_case(z_pcc=2.0, z_occ=-3.0) == 0.0
