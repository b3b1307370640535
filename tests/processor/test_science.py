"""3D-SSP science checks in MNI space (no registration, so they run in seconds).

Subjects come from the digital phantom's subject model on the atlas grid, blurred to SPECT
resolution with Poisson noise; the normal database is built from NC subjects exactly as
`normaldb build` does after registration.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from atlas import load_atlas, voi
from atlas.normaldb_build import NormalDatabaseBuilder
from atlas.analysis import SSPAnalyser
from processor.phantom import SubjectOptions, apply_reduction, simulate_subject

FWHM_MM = 12.0
N_NORMALS = 16


def _scan(activity: np.ndarray, rng: np.random.Generator, peak: float = 800.0) -> np.ndarray:
    blurred = ndimage.gaussian_filter(activity, FWHM_MM / 2.3548 / 2.0)
    lam = np.clip(blurred / blurred.max() * peak, 0, None)
    return rng.poisson(lam).astype(np.float32)


@pytest.fixture(scope="module")
def atlas():
    return load_atlas()


@pytest.fixture(scope="module")
def analyser(atlas):
    builder = NormalDatabaseBuilder(atlas, 13.5, "IMP", keep_volumes=False)
    for i in range(N_NORMALS):
        rng = np.random.default_rng([7, i])
        act, _ = simulate_subject(rng, "NC", SubjectOptions(deform=False), atlas=atlas)
        builder.add(_scan(act, rng), {"i": i})
    return SSPAnalyser(atlas, builder.build(), 13.5, 2.0, "GLB")


def _subject(atlas, seed: int, label: str = "NC", **opts) -> np.ndarray:
    rng = np.random.default_rng([99, seed])
    act, _ = simulate_subject(rng, label, SubjectOptions(deform=False, **opts), atlas=atlas)
    return act


def _pixels(analyser: SSPAnalyser, names: list[str]) -> np.ndarray:
    return np.isin(analyser.pixel_voi, [voi.LABELS[n] for n in names])


def _far_pixels(atlas, analyser, names: list[str], mm: float = 40.0) -> np.ndarray:
    lesion = atlas.voi_mask(names)
    dist = ndimage.distance_transform_edt(~lesion) * atlas.voxel_mm
    v = atlas.surface.voxel
    return dist[v[:, 0], v[:, 1], v[:, 2]] > mm


@pytest.mark.parametrize("region", ["superior_parietal_L", "cuneus_R", "lateral_temporal_R", "frontal_L"])
def test_known_lesion_25_percent_is_recovered(atlas, analyser, region):
    act = apply_reduction(_subject(atlas, 1), atlas, [region], 0.25)
    z = analyser.analyse(_scan(act, np.random.default_rng(1))).z_for("GLB")
    on = _pixels(analyser, [region])
    far = _far_pixels(atlas, analyser, [region])
    assert on.sum() > 50 and far.sum() > 5000
    assert z[on].mean() >= 2.0, f"{region}: mean Z {z[on].mean():.2f} on the lesion"
    assert abs(z[far].mean()) < 1.0, f"{region}: mean Z {z[far].mean():.2f} far from the lesion"


def test_milder_lesion_gives_smaller_positive_z(atlas, analyser):
    base = _subject(atlas, 2)
    on = _pixels(analyser, ["superior_parietal_R"])
    zs = {}
    for frac in (0.10, 0.25):
        act = apply_reduction(base, atlas, ["superior_parietal_R"], frac)
        zs[frac] = analyser.analyse(_scan(act, np.random.default_rng(2))).z_for("GLB")[on].mean()
    assert 0.5 < zs[0.10] < zs[0.25]


def test_ad_and_dlb_light_up_their_own_regions(atlas, analyser):
    ad_px = _pixels(analyser, voi.AD_REGIONS)
    occ_px = _pixels(analyser, voi.DLB_REGIONS)
    z_ad = analyser.analyse(_scan(_subject(atlas, 3, "AD", severity=(0.3, 0.3), variant="typical"),
                                  np.random.default_rng(3))).z_for("GLB")
    z_dlb = analyser.analyse(_scan(_subject(atlas, 3, "DLB", severity=(0.3, 0.3), variant="typical"),
                                   np.random.default_rng(3))).z_for("GLB")
    assert z_ad[ad_px].mean() > 2.0 and z_ad[ad_px].mean() > z_ad[occ_px].mean() + 1.0
    assert z_dlb[occ_px].mean() > 2.0 and z_dlb[occ_px].mean() > z_dlb[_pixels(analyser, voi.both("posterior_cingulate"))].mean()


def test_leave_one_out_specificity(analyser):
    loo = analyser.ndb.loo_z()
    frac = (loo > 2.0).mean(axis=2).mean(axis=0)  # per reference
    assert np.all(frac < 0.05), f"LOO % of pixels with Z > 2 per reference: {100 * frac}"


def test_cerebellar_lesion_depends_on_reference(atlas, analyser):
    cbl = voi.both("cerebellum") + ["vermis"]
    act = apply_reduction(_subject(atlas, 4), atlas, cbl, 0.25)
    res = analyser.analyse(_scan(act, np.random.default_rng(4)))
    on = _pixels(analyser, voi.both("cerebellum"))
    cortex = _pixels(analyser, voi.both("frontal") + voi.both("lateral_temporal") + voi.both("sensorimotor"))
    glb, cblz = res.z_for("GLB"), res.z_for("CBL")
    # GLB: the cerebellum shows as a decrease, the cortex stays near normal.
    assert glb[on].mean() > 2.0 and abs(glb[cortex].mean()) < 1.0
    # CBL: the low reference lifts everything else; the whole cortex shifts to negative Z
    # (an apparent increase), and the cerebellum itself is no longer a decrease.
    assert cblz[cortex].mean() < -2.0
    assert cblz[on].mean() < glb[on].mean() - 2.0


def test_region_table_and_indices_follow_the_pattern(atlas, analyser):
    ad = analyser.analyse(_scan(_subject(atlas, 5, "AD", severity=(0.3, 0.3), variant="typical"), np.random.default_rng(5)))
    dlb = analyser.analyse(_scan(_subject(atlas, 5, "DLB", severity=(0.3, 0.3), variant="typical"), np.random.default_rng(5)))
    nc = analyser.analyse(_scan(_subject(atlas, 5), np.random.default_rng(5)))
    assert ad.regions["parietal_L"].extent_pct > 30 and nc.regions["parietal_L"].extent_pct < 15
    assert ad.indices.severity > nc.indices.severity + 0.5
    assert ad.indices.extent > nc.indices.extent + 20
    # Cingulate island sign: the posterior cingulate is spared relative to the occipital
    # cortex in DLB, not in AD.
    assert 0 < dlb.indices.ciscore < ad.indices.ciscore
