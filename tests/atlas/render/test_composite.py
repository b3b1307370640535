"""The CNN composite: size, fixed view boxes, views in their own box, for every layout."""
from __future__ import annotations

import numpy as np
import pytest

from atlas import load_atlas
from atlas.surface import CNN_VIEWS, VIEWS
from atlas.render.composite import LAYOUTS, PAPER_LAYOUT, card_layout, composite, get_layout

LAYOUT_NAMES = list(LAYOUTS)


def view_boxes(size, layout=PAPER_LAYOUT):
    return layout.view_boxes(size)


@pytest.fixture(scope="module")
def surface():
    return load_atlas().surface


def _coloured(img: np.ndarray) -> np.ndarray:
    """Pixels that are neither grey surface nor black background."""
    i = img.astype(int)
    return (np.abs(i[..., 0] - i[..., 1]) > 8) | (np.abs(i[..., 1] - i[..., 2]) > 8)


def _z_on(surface, views, value=4.0):
    z = np.zeros(surface.n_pixels, np.float32)
    for v in views:
        z[surface.view_slice(v)] = value
    return z


@pytest.mark.parametrize("size", [227, 224])
def test_composite_shape_and_type(surface, size):
    img = composite(surface, _z_on(surface, []), size=size)
    assert img.shape == (size, size, 3) and img.dtype == np.uint8


@pytest.mark.parametrize("size", [160, 227])
def test_the_2x3_layout_is_one_and_a_half_times_as_wide(surface, size):
    img = composite(surface, _z_on(surface, []), size=size, layout=LAYOUTS["2x3"])
    assert img.shape == (size, round(size * 1.5), 3)


@pytest.mark.parametrize("name", LAYOUT_NAMES)
@pytest.mark.parametrize("size", [227, 225, 224])
def test_view_boxes_tile_the_image(size, name):
    layout = LAYOUTS[name]
    boxes = view_boxes(size, layout)
    h, w = layout.shape(size)
    assert list(boxes) == list(layout.views)
    cover = np.zeros((h, w), int)
    for top, left, bottom, right in boxes.values():
        assert 0 <= top < bottom <= h and 0 <= left < right <= w
        cover[top:bottom, left:right] += 1
    assert np.all(cover == 1)
    # the paper's layout: laterals on the top row, medials below; right views on the left
    assert boxes["RT.LAT"][:2] == (0, 0)
    assert boxes["LT.LAT"][0] == 0 and boxes["LT.LAT"][1] > 0
    assert boxes["RT.MED"][0] > 0 and boxes["RT.MED"][1] == 0
    assert boxes["LT.MED"][0] > 0 and boxes["LT.MED"][1] > 0


def test_no_z_gives_grey_brains_in_every_box(surface):
    img = composite(surface, _z_on(surface, []), size=227)
    assert not _coloured(img).any()
    for top, left, bottom, right in view_boxes(227).values():
        cell = img[top:bottom, left:right]
        assert (cell.max(axis=-1) > 0).mean() > 0.2   # a brain in each box


def test_the_paper_layout_is_the_four_cnn_views():
    assert PAPER_LAYOUT.views == CNN_VIEWS and get_layout("2x2") is PAPER_LAYOUT


def test_the_2x3_layout_adds_posterior_over_inferior_on_the_right():
    boxes = view_boxes(240, LAYOUTS["2x3"])
    assert {v: b[:2] for v, b in boxes.items() if v in CNN_VIEWS} == {v: b[:2] for v, b in view_boxes(240).items()}
    assert boxes["POST"][:2] == (0, 240) and boxes["INF"][:2] == (120, 240)


def test_a_card_names_its_layout_and_old_cards_are_2x2():
    assert card_layout({"input": {"size": 160}}) is PAPER_LAYOUT
    assert card_layout({"input": {"size": 160, "views": "2x3"}}) is LAYOUTS["2x3"]
    with pytest.raises(ValueError, match="unknown composite layout '3x3'"):
        card_layout({"input": {"views": "3x3"}})


@pytest.mark.parametrize("size", [227, 224])
@pytest.mark.parametrize("view,name", [(v, "2x2") for v in CNN_VIEWS] + [(v, "2x3") for v in ("POST", "INF", "LT.MED")])
def test_z_pattern_on_one_view_colours_only_its_box(surface, view, name, size):
    layout = LAYOUTS[name]
    img = composite(surface, _z_on(surface, [view]), size=size, layout=layout)
    col = _coloured(img)
    boxes = view_boxes(size, layout)
    top, left, bottom, right = boxes[view]
    inside = col[top:bottom, left:right]
    assert inside.mean() > 0.2, "the view's brain should be coloured"
    outside = col.copy()
    outside[top:bottom, left:right] = False
    assert not outside.any(), f"colour of {view} leaks out of its box"


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_views_not_on_the_composite_do_not_appear(surface, name):
    layout = LAYOUTS[name]
    others = [v for v in VIEWS if v not in layout.views]
    img = composite(surface, _z_on(surface, others), size=227, layout=layout)
    assert not _coloured(img).any()


def test_display_thresholds_change_what_is_shown(surface):
    z = _z_on(surface, ["RT.LAT"], value=1.5)
    shown_low = _coloured(composite(surface, z, z_min=1.0, z_max=5.0)).sum()
    shown_high = _coloured(composite(surface, z, z_min=2.0, z_max=5.0)).sum()
    assert shown_low > 1000 and shown_high == 0


def test_lateral_orientation_survives_the_composite():
    from atlas import voi
    a = load_atlas()
    s = a.surface
    z = np.zeros(s.n_pixels, np.float32)
    rt = s.view_slice("RT.LAT")
    frontal = np.zeros(s.n_pixels, bool)
    frontal[rt] = a.pixel_voi[rt] == voi.LABELS["frontal_R"]
    z[frontal] = 4.0
    img = composite(s, z, size=227)
    top, left, bottom, right = view_boxes(227)["RT.LAT"]
    rows, cols = np.nonzero(_coloured(img)[top:bottom, left:right])
    assert rows.size > 100
    assert cols.mean() > (right - left) / 2 + 5   # the face of a right lateral view points right
