"""The CNN composite: size, fixed view boxes, views in their own box."""
from __future__ import annotations

import numpy as np
import pytest

from atlas import load_atlas
from atlas.surface import CNN_VIEWS, VIEWS
from atlas.render.composite import composite, view_boxes


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


@pytest.mark.parametrize("size", [227, 224])
def test_view_boxes_tile_the_image(size):
    boxes = view_boxes(size)
    assert list(boxes) == list(CNN_VIEWS)
    cover = np.zeros((size, size), int)
    for top, left, bottom, right in boxes.values():
        assert 0 <= top < bottom <= size and 0 <= left < right <= size
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


@pytest.mark.parametrize("size", [227, 224])
@pytest.mark.parametrize("view", CNN_VIEWS)
def test_z_pattern_on_one_view_colours_only_its_box(surface, view, size):
    img = composite(surface, _z_on(surface, [view]), size=size)
    col = _coloured(img)
    boxes = view_boxes(size)
    top, left, bottom, right = boxes[view]
    inside = col[top:bottom, left:right]
    assert inside.mean() > 0.2, "the view's brain should be coloured"
    outside = col.copy()
    outside[top:bottom, left:right] = False
    assert not outside.any(), f"colour of {view} leaks out of its box"


def test_views_not_on_the_composite_do_not_appear(surface):
    others = [v for v in VIEWS if v not in CNN_VIEWS]
    img = composite(surface, _z_on(surface, others), size=227)
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
