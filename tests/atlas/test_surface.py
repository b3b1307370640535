"""3D-SSP surface: view orientation, inward normals, sample table, builder on a sphere."""
from __future__ import annotations

import numpy as np
import pytest

from atlas import load_atlas, voi
from atlas.surface import VIEWS, build_surface, pixel_labels, sample_indices


@pytest.fixture(scope="module")
def atlas():
    return load_atlas()


def _view_pixels(atlas, view):
    """rows, cols of a view's surface pixels, their surface pixel indices and world mm."""
    pmap = atlas.surface.pixel_maps[view]
    rows, cols = np.nonzero(pmap >= 0)
    idx = pmap[rows, cols]
    mm = atlas.world_mm(atlas.surface.voxel[idx].astype(float))
    return rows, cols, idx, mm


def _region(atlas, view, names):
    rows, cols, idx, _ = _view_pixels(atlas, view)
    sel = np.isin(atlas.pixel_voi[idx], [voi.LABELS[n] for n in names])
    assert sel.sum() > 50, f"too few {names} pixels on {view}"
    return rows[sel].mean(), cols[sel].mean(), rows.mean(), cols.mean()


def test_surface_pixel_table_is_consistent(atlas):
    s = atlas.surface
    assert s.voxel.shape == (s.n_pixels, 3)
    assert s.normal.shape == (s.n_pixels, 3)
    assert set(s.pixel_maps) == set(VIEWS)
    seen = np.concatenate([m[m >= 0] for m in s.pixel_maps.values()])
    # every surface pixel appears exactly once in exactly one view image
    np.testing.assert_array_equal(np.sort(seen), np.arange(s.n_pixels))
    for v in VIEWS:
        m = s.pixel_maps[v]
        assert np.all(s.view_index[m[m >= 0]] == VIEWS.index(v))
    assert np.all(atlas.brain[tuple(s.voxel.T)])
    np.testing.assert_allclose(np.linalg.norm(s.normal, axis=1), 1.0, atol=1e-4)
    assert np.all((s.shading >= 0) & (s.shading <= 1))


def test_rt_lat_frontal_right_cerebellum_lower_left(atlas):
    fr, fc, r0, c0 = _region(atlas, "RT.LAT", ["frontal_R"])
    cr, cc, _, _ = _region(atlas, "RT.LAT", ["cerebellum_R"])
    assert fc > c0 + 10       # frontal on the right of the image
    assert cc < c0 - 10       # cerebellum on the left ...
    assert cr > r0 + 10       # ... and low
    assert cr > fr + 10


def test_lt_lat_is_mirrored(atlas):
    fr, fc, r0, c0 = _region(atlas, "LT.LAT", ["frontal_L"])
    cr, cc, _, _ = _region(atlas, "LT.LAT", ["cerebellum_L"])
    assert fc < c0 - 10
    assert cc > c0 + 10
    assert cr > r0 + 10


def _corr(a, b):
    return float(np.corrcoef(a, b)[0, 1])


@pytest.mark.parametrize("view,col_x_sign", [("SUP", +1), ("INF", -1), ("ANT", -1), ("POST", +1)])
def test_left_right_in_axial_and_coronal_views(atlas, view, col_x_sign):
    rows, cols, _, mm = _view_pixels(atlas, view)
    # image columns follow subject x (right = +x in RAS): +1 means subject right on the image right
    assert _corr(cols, mm[:, 0]) * col_x_sign > 0.95
    # and by anatomy: right-hemisphere VOIs sit on the expected side
    _, rc, _, c0 = _region(atlas, view, ["frontal_R", "sensorimotor_R", "lateral_temporal_R",
                                         "cerebellum_R", "middle_occipital_R"])
    _, lc, _, _ = _region(atlas, view, ["frontal_L", "sensorimotor_L", "lateral_temporal_L",
                                        "cerebellum_L", "middle_occipital_L"])
    assert (rc - lc) * col_x_sign > 20


@pytest.mark.parametrize("view", ["SUP", "INF"])
def test_anterior_at_top_in_sup_and_inf(atlas, view):
    rows, _, _, mm = _view_pixels(atlas, view)
    assert _corr(rows, mm[:, 1]) < -0.95
    fr, _, _, _ = _region(atlas, view, ["frontal_L", "frontal_R"])
    orow, _, _, _ = _region(atlas, view, ["middle_occipital_L", "middle_occipital_R", "cerebellum_L",
                                         "cerebellum_R", "superior_occipital_L", "superior_occipital_R"])
    assert fr < orow - 20


@pytest.mark.parametrize("view", ["RT.LAT", "LT.LAT", "ANT", "POST", "RT.MED", "LT.MED"])
def test_superior_at_top(atlas, view):
    rows, _, _, mm = _view_pixels(atlas, view)
    assert _corr(rows, mm[:, 2]) < -0.95


@pytest.mark.parametrize("view,x_sign,front_col_sign", [("RT.MED", +1, -1), ("LT.MED", -1, +1)])
def test_medial_views_contain_only_their_hemisphere(atlas, view, x_sign, front_col_sign):
    rows, cols, _, mm = _view_pixels(atlas, view)
    assert np.all(mm[:, 0] * x_sign > 0)
    # the medial surface: close to the midline for most pixels
    assert np.median(np.abs(mm[:, 0])) < 20
    # seen from the midline, the face of the right hemisphere points left (and vice versa)
    assert _corr(cols, mm[:, 1]) * front_col_sign > 0.95


@pytest.mark.parametrize("view", ["RT.LAT", "LT.LAT"])
def test_lateral_views_show_their_hemisphere_mostly(atlas, view):
    _, _, _, mm = _view_pixels(atlas, view)
    sign = 1 if view == "RT.LAT" else -1
    assert np.mean(mm[:, 0] * sign > 0) > 0.99
    assert np.median(np.abs(mm[:, 0])) > 40


@pytest.mark.parametrize("view", VIEWS)
def test_inward_normals_point_into_the_brain(atlas, view):
    s = atlas.surface
    sl = s.view_slice(view)
    vox = s.voxel[sl].astype(float)
    n = s.normal[sl]
    # medial views: the surface is that of one hemisphere, cut at x = 0
    x_mm = atlas.world_mm(np.indices(atlas.shape).reshape(3, -1).T.astype(float))[:, 0].reshape(atlas.shape)
    side = {"RT.MED": x_mm > 0, "LT.MED": x_mm < 0}.get(view, np.ones(atlas.shape, bool))
    mask = atlas.brain & side
    for step in (2.0, 4.0):
        q = np.rint(vox + step * n).astype(int)
        q = np.clip(q, 0, np.array(atlas.shape) - 1)
        inside = mask[q[:, 0], q[:, 1], q[:, 2]]
        assert inside.mean() > 0.95, f"{view}: {inside.mean():.3f} inside after {step} voxels"
    # and stepping outward leaves the (hemisphere) mask for most pixels
    q = np.clip(np.rint(vox - 2.0 * n).astype(int), 0, np.array(atlas.shape) - 1)
    assert (~mask[q[:, 0], q[:, 1], q[:, 2]]).mean() > 0.8


def test_sample_indices_stay_inside_the_mask(atlas):
    for depth in (13.5, 6.0, 20.0):
        samples = atlas.samples(depth)
        assert samples.shape == (atlas.surface.n_pixels, int(depth / atlas.voxel_mm + 1e-6) + 1)
        assert np.all(atlas.brain.ravel()[samples])
        # the first sample is the surface voxel itself
        surf_flat = np.ravel_multi_index(tuple(atlas.surface.voxel.T.astype(np.int64)), atlas.shape)
        np.testing.assert_array_equal(samples[:, 0], surf_flat)


def test_sample_indices_fall_back_to_surface_voxel_outside_mask():
    from atlas.surface import Surface
    shape = (10, 10, 10)
    inside = np.zeros(shape, bool)
    inside[2:5, 5, 5] = True  # a short line: 3 voxels, then outside
    surf = Surface(np.array([[2, 5, 5]], np.int16), np.array([[1.0, 0, 0]], np.float32),
                   np.zeros(1, np.int8), {}, np.ones(1, np.float32))
    s = sample_indices(surf, shape, voxel_mm=2.0, depth_mm=10.0, inside=inside)
    got = [np.unravel_index(i, shape)[0] for i in s[0]]
    assert got == [2, 3, 4, 2, 2, 2]


def test_pixel_labels_majority_along_normal():
    labels = np.array([0, 5, 7, 7, 0, 3], np.uint8)
    samples = np.array([[0, 1, 2, 3, 4], [0, 0, 4, 4, 4], [5, 1, 1, 0, 0]])
    np.testing.assert_array_equal(pixel_labels(samples, labels), [7, 0, 5])


@pytest.fixture(scope="module")
def sphere():
    n, c, r = 41, 20, 12.0
    g = np.indices((n, n, n)) - c
    dist = np.sqrt((g ** 2).sum(axis=0))
    mask = dist <= r
    return mask, c, r, build_surface(mask, midline_index=c)


@pytest.mark.parametrize("view", ["RT.LAT", "LT.LAT", "SUP", "INF", "ANT", "POST"])
def test_sphere_surface_pixels_at_radius(sphere, view):
    mask, c, r, surf = sphere
    sl = surf.view_slice(view)
    vox = surf.voxel[sl].astype(float)
    d = np.linalg.norm(vox - c, axis=1)
    assert np.all(np.abs(d - r) <= 1.0)
    # projected disc: about pi r^2 pixels
    npx = int((surf.pixel_maps[view] >= 0).sum())
    assert npx == sl.stop - sl.start
    assert abs(npx - np.pi * r ** 2) < 0.15 * np.pi * r ** 2
    # inward normals point toward the centre
    radial = (c - vox) / np.linalg.norm(c - vox, axis=1, keepdims=True)
    cosines = (surf.normal[sl] * radial).sum(axis=1)
    assert np.median(cosines) > 0.95
    assert np.all(cosines > 0.5)


def test_sphere_surface_faces_the_viewer(sphere):
    _, c, _, surf = sphere
    # each outer view sees the hemisphere facing it
    expect = {"RT.LAT": (0, +1), "LT.LAT": (0, -1), "SUP": (2, +1), "INF": (2, -1), "ANT": (1, +1),
              "POST": (1, -1)}
    for view, (axis, sign) in expect.items():
        vox = surf.voxel[surf.view_slice(view)].astype(float)
        assert np.all((vox[:, axis] - c) * sign >= 0), view


@pytest.mark.parametrize("view,side", [("RT.MED", +1), ("LT.MED", -1)])
def test_sphere_medial_views_start_at_the_midline(sphere, view, side):
    mask, c, r, surf = sphere
    vox = surf.voxel[surf.view_slice(view)]
    assert np.all(vox[:, 0] == c + side)
    # the cut face: a disc of about the full radius
    assert abs(len(vox) - np.pi * r ** 2) < 0.15 * np.pi * r ** 2
    # inward normal of the cut face goes away from the midline
    assert np.median(surf.normal[surf.view_slice(view)][:, 0] * side) > 0.9
