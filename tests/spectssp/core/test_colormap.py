"""Rainbow Z colour scale: transparency, saturation, hue order."""
from __future__ import annotations

import colorsys

import numpy as np
import pytest

from spectssp.core.colormap import LUT, colourise, grey_surface, overlay, rainbow_lut, view_array


def _hue_deg(rgb) -> float:
    r, g, b = (np.asarray(rgb, float) / 255.0)
    return 360.0 * colorsys.rgb_to_hsv(r, g, b)[0]


def test_lut_runs_from_purple_to_red():
    assert LUT.shape == (256, 3) and LUT.dtype == np.uint8
    assert 260 <= _hue_deg(LUT[0]) <= 300          # purple
    assert tuple(LUT[-1]) == (255, 0, 0)           # red
    # blue a little way up: blue dominates
    low = LUT[len(LUT) // 8]
    assert low[2] > 200 and low[0] < 120 and low[1] < 60


def test_lut_hue_is_monotone_from_cold_to_warm():
    hues = np.array([_hue_deg(c) for c in LUT])
    hues[hues > 330] -= 360  # red wraps to 0
    assert np.all(np.diff(hues) <= 1e-6), "hue must fall steadily from purple to red"
    assert hues[0] - hues[-1] > 250
    # every colour of the scale is saturated (no grey that could be mistaken for the surface)
    sat = np.array([colorsys.rgb_to_hsv(*(c / 255.0))[1] for c in LUT.astype(float)])
    assert sat.min() > 0.9


def test_rainbow_lut_size():
    assert rainbow_lut(16).shape == (16, 3)
    np.testing.assert_array_equal(rainbow_lut(256), LUT)


def test_z_at_or_below_z_min_is_transparent():
    z = np.array([-3.0, 0.0, 1e-3, 1.0, np.nan])
    _, shown = colourise(z, 0.0, 5.0)
    np.testing.assert_array_equal(shown, [False, False, True, True, False])
    _, shown = colourise(np.array([0.5, 1.0, 1.01]), 1.0, 5.0)
    np.testing.assert_array_equal(shown, [False, False, True])


def test_saturation_above_z_max():
    rgb, shown = colourise(np.array([5.0, 6.0, 50.0, np.inf]), 0.0, 5.0)
    assert shown.all()
    for c in rgb:
        assert tuple(c) == tuple(LUT[-1])


def test_colour_follows_z_on_a_fixed_range():
    z = np.linspace(0.01, 5.0, 50)
    rgb, _ = colourise(z, 0.0, 5.0)
    hues = np.array([_hue_deg(c) for c in rgb])
    hues[hues > 330] -= 360
    assert np.all(np.diff(hues) <= 1e-6)
    # the same Z gets the same colour whatever else is in the map (fixed scale, no autoscaling)
    a, _ = colourise(np.array([2.0, 0.1]), 0.0, 5.0)
    b, _ = colourise(np.array([2.0, 4.9]), 0.0, 5.0)
    np.testing.assert_array_equal(a[0], b[0])
    # mid-range: middle of the LUT
    mid, _ = colourise(np.array([2.5]), 0.0, 5.0)
    np.testing.assert_array_equal(mid[0], LUT[128])


def test_overlay_keeps_grey_where_transparent_and_black_background():
    present = np.array([[True, True, True, False]])
    shading = np.array([[0.5, 0.5, 1.0, 0.5]])
    z = np.array([[3.0, -1.0, np.nan, 4.0]])
    img = overlay(z, shading, present, 0.0, 5.0)
    assert img.dtype == np.uint8 and img.shape == (1, 4, 3)
    r, g, b = img[0, 0]
    assert not (r == g == b)                   # coloured
    assert len(set(img[0, 1])) == 1 and img[0, 1, 0] > 0   # grey surface
    assert img[0, 2, 0] > img[0, 1, 0]         # brighter shading, brighter grey
    np.testing.assert_array_equal(img[0, 3], [0, 0, 0])    # background stays black even with a Z


def test_grey_surface_range():
    g = grey_surface(np.array([0.0, 1.0, 2.0]), np.array([True, True, True]))
    assert np.all(g[:, 0] == g[:, 1]) and np.all(g[:, 1] == g[:, 2])
    assert 0 < g[0, 0] < g[1, 0] == g[2, 0] <= 255


def test_view_array_scatters_pixel_values():
    pmap = np.array([[-1, 0], [2, 1]])
    out = view_array(np.array([10.0, 20.0, 30.0]), pmap)
    assert np.isnan(out[0, 0])
    np.testing.assert_array_equal(out[[0, 1, 1], [1, 0, 1]], [10.0, 30.0, 20.0])
