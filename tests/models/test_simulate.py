"""Simulation: counts lowered only in the intended VOIs by the intended fraction; protocol
counts; validation held out by member; the cache."""
from __future__ import annotations

import hashlib
import json

import numpy as np
from scipy import ndimage
import pytest

from atlas import voi
from models import CLASSES
from models.simulate import (SimulationConfig, Simulator, allocate, build_or_load, lower_counts,
                             member_volume, ours_regions, paper_regions, reduction_map)


def test_paper_lowering_is_uniform_and_confined(atlas, small_ndb):
    base = member_volume(small_ndb, atlas, 0)
    for label, names in (("AD", voi.AD_REGIONS), ("DLB", voi.DLB_REGIONS)):
        out = lower_counts(base, reduction_map(atlas, paper_regions(label, 0.27), 0.0))
        inside = atlas.voi_mask(names) & atlas.brain
        ratio = out[inside] / base[inside]
        np.testing.assert_allclose(ratio, 0.73, rtol=1e-5)
        np.testing.assert_array_equal(out[~inside], base[~inside])


def test_paper_protocol_draws_between_20_and_35_percent(atlas, small_ndb):
    cfg = SimulationConfig.for_protocol("paper", images_per_class=12, validation_per_class=2, image_size=64)
    sim = Simulator(atlas, small_ndb, cfg)
    base = member_volume(small_ndb, atlas, 1)
    inside = atlas.voi_mask(voi.DLB_REGIONS) & atlas.brain
    fracs = []
    for j in range(20):
        vol, info = sim.volume_for("DLB", base, np.random.default_rng(j))
        r = 1.0 - vol[inside] / base[inside]
        assert np.ptp(r) < 1e-5                       # one uniform fraction per image
        assert info["severity"] == pytest.approx(float(r.mean()), abs=1e-4)
        np.testing.assert_array_equal(vol[~inside], base[~inside])
        fracs.append(float(r.mean()))
    assert 0.20 <= min(fracs) and max(fracs) <= 0.35
    assert max(fracs) - min(fracs) > 0.05              # really drawn, not fixed
    nc, _ = sim.volume_for("NC", base, np.random.default_rng(0))
    np.testing.assert_array_equal(nc, base)


def test_ours_dlb_spares_posterior_cingulate_with_smooth_edges(atlas, small_ndb):
    cfg = _plain_ours()
    sim = Simulator(atlas, small_ndb, cfg)
    base = member_volume(small_ndb, atlas, 2)
    vol, info = sim.volume_for("DLB", base, np.random.default_rng(3))
    red = np.where(atlas.brain, 1.0 - vol / np.maximum(base, 1e-6), 0.0)
    cuneus = red[atlas.voi_mask(voi.both("cuneus"))].mean()
    pcc = red[atlas.voi_mask(voi.both("posterior_cingulate"))].mean()
    frontal = red[atlas.voi_mask(voi.both("frontal"))].mean()
    assert cuneus > 0.15 and pcc < 0.5 * cuneus and frontal < 0.01
    # smooth edges: voxels just outside the occipital VOIs are lowered, but less than inside
    occ = atlas.voi_mask(voi.DLB_REGIONS)
    from scipy import ndimage
    ring = ndimage.binary_dilation(occ, iterations=2) & ~occ & atlas.brain & ~atlas.voi_mask(
        [f"{b}_{s}" for b in ("angular", "inferior_parietal", "superior_parietal", "supramarginal",
                              "precuneus", "posterior_cingulate") for s in voi.SIDES])
    assert 0.01 < red[ring].mean() < red[occ & atlas.brain].mean()


def _plain_ours(**knobs) -> SimulationConfig:
    """Our protocol with every nuisance (randomisation, degradation) and optional variant off."""
    off = dict(blur_fwhm_mm=(0.0, 0.0), noise_sd=(0.0, 0.0), distractor_p=0.0, partial_p=0.0, asymmetric_p=0.0,
               severity=(0.3, 0.3), variation_sd=(0.0, 0.0), region_warp_mm=(0.0, 0.0),
               lesion_texture_sd=(0.0, 0.0), edge_fwhm_extra_mm=(0.0, 0.0), regional_ratio_sd=(0.0, 0.0),
               pattern_shift_sd=(0.0, 0.0), misregistration_mm=0.0, misregistration_deg=0.0, misregistration_scale=0.0,
               dlb_spared_v1_p=0.0, dlb_cingulate_involved_p=0.0, dlb_parietal_p=0.0)
    return SimulationConfig.for_protocol("ours", images_per_class=12, validation_per_class=2, image_size=64,
                                         **{**off, **knobs})


def _reduction(atlas, vol, base, base_name: str) -> float:
    red = np.where(atlas.brain, 1.0 - vol / np.maximum(base, 1e-6), 0.0)
    return float(red[atlas.voi_mask(voi.both(base_name)) & atlas.brain].mean())


def test_ours_dlb_with_spared_primary_visual_cortex(atlas, small_ndb):
    sim = Simulator(atlas, small_ndb, _plain_ours(dlb_spared_v1_p=1.0, dlb_v1_share=(0.0, 0.0)))
    base = member_volume(small_ndb, atlas, 2)
    vol, info = sim.volume_for("DLB", base, np.random.default_rng(5))
    assert info["v1_share"] == 0.0
    lateral = _reduction(atlas, vol, base, "middle_occipital")
    assert lateral > 0.15 and _reduction(atlas, vol, base, "cuneus") < 0.4 * lateral
    # the default keeps V1 involved
    plain, _ = Simulator(atlas, small_ndb, _plain_ours()).volume_for("DLB", base, np.random.default_rng(5))
    assert _reduction(atlas, plain, base, "cuneus") > 0.8 * _reduction(atlas, plain, base, "middle_occipital")


def test_ours_ad_confined_to_its_earliest_sites_when_asked():
    """ad_early_p: AD in the posterior cingulate and precuneus only. Off (the default), the draws
    are the ones the recipe made before the knob existed (pinned: the bundled model's images)."""
    early = _plain_ours(ad_early_p=1.0, ad_temporal_p=1.0)
    for seed in range(5):
        regions, drawn = ours_regions(np.random.default_rng(seed), "AD", early)
        assert drawn["early_only"] and set(regions) == {f"{b}_{s}" for b in ("posterior_cingulate", "precuneus")
                                                        for s in voi.SIDES}
        assert min(regions.values()) > 0.3 * 0.9 * (1 - 0.3)   # severity 0.3 x share x jitter
        dlb, drawn = ours_regions(np.random.default_rng(seed), "DLB", early)   # AD only
        assert "early_only" not in drawn and any(n.startswith("cuneus") for n in dlb)
    default, out = SimulationConfig.for_protocol("ours"), []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        for label in ("AD", "DLB", "AD"):
            regions, drawn = ours_regions(rng, label, default)
            out.append([sorted((k, round(v, 9)) for k, v in regions.items()), sorted(drawn)])
    assert not any("early_only" in d for _, d in out)
    assert hashlib.sha256(json.dumps(out).encode()).hexdigest()[:16] == "502951d79d2c6d44"
    with pytest.raises(ValueError, match="ad_early_p"):
        SimulationConfig.for_protocol("ours", ad_early_p=1.5)


def test_ours_dlb_without_cingulate_island(atlas, small_ndb):
    sim = Simulator(atlas, small_ndb, _plain_ours(dlb_cingulate_involved_p=1.0,
                                                  dlb_cingulate_involved_share=(0.8, 0.8)))
    base = member_volume(small_ndb, atlas, 2)
    vol, info = sim.volume_for("DLB", base, np.random.default_rng(5))
    assert info["cingulate_share"] == 0.8
    spared, _ = Simulator(atlas, small_ndb, _plain_ours()).volume_for("DLB", base, np.random.default_rng(5))
    # a thin region: its edges are smoothed to the database resolution, so compare with the island
    assert _reduction(atlas, vol, base, "posterior_cingulate") > 2.5 * _reduction(atlas, spared, base,
                                                                                  "posterior_cingulate")


def test_ours_randomises_what_is_not_disease(atlas, small_ndb):
    """With the randomisation on, two NC images of one member differ (regional ratios,
    misregistration) and the lesion of a DLB image leaves its atlas VOIs (warped shape)."""
    cfg = _plain_ours(regional_ratio_sd=(0.03, 0.03), misregistration_mm=2.0, misregistration_deg=2.0,
                      misregistration_scale=0.02, region_warp_mm=(4.0, 4.0))
    sim = Simulator(atlas, small_ndb, cfg)
    base = member_volume(small_ndb, atlas, 1)
    a, info = sim.volume_for("NC", base, np.random.default_rng(1))
    b, _ = sim.volume_for("NC", base, np.random.default_rng(2))
    assert {"regional_ratio_sd", "misregistration_deg"} <= set(info)
    assert np.abs(a - b)[atlas.brain].mean() > 0.01 * base[atlas.brain].mean()
    warped = sim.lesion_weights({"cuneus_L": 0.3}, np.random.default_rng(3))[0]
    plain = Simulator(atlas, small_ndb, _plain_ours()).lesion_weights({"cuneus_L": 0.3}, np.random.default_rng(3))[0]
    assert np.abs(warped - plain).max() > 0.05
    assert warped.sum() == pytest.approx(plain.sum(), rel=0.35)


def test_pattern_shift_moves_both_sides_of_a_region_alike(atlas, small_ndb):
    """Another world's normal pattern: each region's two sides scaled by the same factor, the
    factors differing between regions (an NC image, nothing else switched on)."""
    sim = Simulator(atlas, small_ndb, _plain_ours(pattern_shift_sd=(0.1, 0.1)))
    base = member_volume(small_ndb, atlas, 1)
    vol, info = sim.volume_for("NC", base, np.random.default_rng(4))
    assert info["pattern_shift_sd"] == 0.1
    ratio = {}
    for name in ("cuneus", "frontal", "cerebellum", "lateral_temporal"):
        for side in voi.SIDES:
            core = ndimage.binary_erosion(atlas.voi_mask([f"{name}_{side}"]), iterations=3) & atlas.brain
            ratio[name, side] = float(np.median(vol[core] / base[core]))
    for name in ("cuneus", "frontal", "cerebellum", "lateral_temporal"):
        assert ratio[name, "L"] == pytest.approx(ratio[name, "R"], abs=0.01)
    spread = np.ptp([ratio[n, "L"] for n in ("cuneus", "frontal", "cerebellum", "lateral_temporal")])
    assert spread > 0.03


def test_paper_rejects_our_knobs():
    with pytest.raises(ValueError, match="ours only"):
        SimulationConfig.for_protocol("paper", partial_p=0.5)
    with pytest.raises(ValueError, match="protocol"):
        SimulationConfig.for_protocol("mine")


def test_paper_allocation_369_and_28_by_member():
    cfg = SimulationConfig.for_protocol("paper")
    val, counts = allocate(28, cfg, np.random.default_rng(0))
    assert len(val) == 2
    assert counts.sum() == 369 and counts[val].sum() == 28
    assert counts.min() >= 13


def test_dataset_counts_split_by_member_and_cache(atlas, small_ndb, tmp_path):
    cfg = SimulationConfig.for_protocol("paper", images_per_class=15, validation_per_class=3, image_size=64)
    ds, folder = build_or_load(small_ndb, atlas, cfg, tmp_path, progress=False)
    m = ds.manifest
    assert ds.images.shape == (45, 64, 64, 3) and ds.images.dtype == np.uint8
    for ci, c in enumerate(CLASSES):
        assert m["counts"]["training"][c] == 12 and m["counts"]["validation"][c] == 3
        val_members = set(ds.member[(ds.labels == ci) & (ds.split == 1)])
        train_members = set(ds.member[(ds.labels == ci) & (ds.split == 0)])
        assert val_members == set(m["validation_members"])          # same members in every class
        assert not val_members & train_members
    assert {"images_sha256", "labels_sha256", "seeds", "config"} <= set(m)
    # NC images are the members' leave-one-out maps: their regional Z equals loo_z's.
    from models.features import RegionFeatures
    feats = RegionFeatures(atlas.pixel_voi, list(small_ndb.references))
    loo = small_ndb.loo_z()
    i = int(np.flatnonzero(ds.labels == CLASSES.index("NC"))[0])
    np.testing.assert_allclose(ds.features[i], feats(loo[ds.member[i]]), atol=0.05)
    # AD images show the AD pattern: parietal Z well above occipital Z (GLB row).
    ad = ds.features[ds.labels == 0].reshape(-1, 4, len(feats.regions))[:, 0].mean(0)
    r = {n: k for k, n in enumerate(feats.regions)}
    assert ad[r["parietal_L"]] > 3 and ad[r["occipital_L"]] < 1
    # second call: served from the cache, byte-identical
    again, folder2 = build_or_load(small_ndb, atlas, cfg, tmp_path, progress=False)
    assert folder2 == folder and again.manifest["created"] == m["created"]
    np.testing.assert_array_equal(again.images, ds.images)


def test_the_2x3_layout_renders_the_same_draws_wider(atlas, small_ndb, tmp_path):
    """Only the picture changes with the layout: the same simulated studies (labels, members,
    regional Z) in a 2 x 3 composite, cached apart from the 2 x 2 one; the views both share
    show the same Z map."""
    from atlas.render.composite import LAYOUTS
    small = dict(images_per_class=6, validation_per_class=2, image_size=64)
    square, f2 = build_or_load(small_ndb, atlas, SimulationConfig.for_protocol("paper", **small), tmp_path, progress=False)
    wide, f3 = build_or_load(small_ndb, atlas, SimulationConfig.for_protocol("paper", views="2x3", **small), tmp_path,
                             progress=False)
    assert f2 != f3 and square.images.shape == (18, 64, 64, 3) and wide.images.shape == (18, 64, 96, 3)
    for name in ("labels", "member", "split", "reference", "features"):
        np.testing.assert_array_equal(getattr(square, name), getattr(wide, name))
    boxes2, boxes3 = LAYOUTS["2x2"].view_boxes(64), LAYOUTS["2x3"].view_boxes(64)
    t, l, b, r = boxes3["RT.LAT"]
    assert boxes2["RT.LAT"] == (t, l, b, r)
    diff = np.abs(square.images[:, t:b, l:r].astype(int) - wide.images[:, t:b, l:r].astype(int))
    assert diff.mean() < 3     # the same view, resampled from a wider canvas
    with pytest.raises(ValueError, match="unknown composite layout"):
        SimulationConfig.for_protocol("paper", views="3x3", **small)


def test_2x2_data_sets_keep_the_cache_key_they_had_before_the_layout_choice():
    from models.simulate import SIM_VERSION
    cfg = SimulationConfig.for_protocol("ours", image_size=160)
    before = {k: v for k, v in cfg.as_dict().items() if k not in ("views", "ad_early_p")}   # the knobs added later
    blob = json.dumps({"config": before, "ndb": "n", "atlas": "a", "v": SIM_VERSION}, sort_keys=True)
    assert cfg.key("n", "a") == hashlib.sha256(blob.encode()).hexdigest()[:16]
    assert SimulationConfig.for_protocol("ours", image_size=160, views="2x3").key("n", "a") != cfg.key("n", "a")
    assert SimulationConfig.for_protocol("ours", image_size=160, ad_early_p=0.2).key("n", "a") != cfg.key("n", "a")
