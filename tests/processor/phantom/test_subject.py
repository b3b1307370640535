"""Subject simulation: determinism, disease patterns on the atlas grid, known reductions."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from atlas import load_atlas, voi
from processor.phantom.subject import (DLB_VARIANTS, VARIANTS, SubjectOptions, apply_reduction, base_activity,
                                       disease_regions, simulate_subject)


@pytest.fixture(scope="module")
def atlas():
    return load_atlas()


def _mean(act: np.ndarray, atlas, bases: list[str]) -> float:
    return float(act[atlas.voi_mask([v for b in bases for v in voi.both(b)])].mean())


@pytest.fixture(scope="module")
def paired(atlas):
    """NC, AD and DLB of the same subject (same seed), typical pattern, 25 % severity."""
    opts = SubjectOptions(variant="typical", severity=(0.25, 0.25))
    return {lab: simulate_subject(np.random.default_rng(4), lab, opts, atlas) for lab in ("NC", "AD", "DLB")}


def test_same_seed_same_subject_other_seed_differs(atlas):
    a1, t1 = simulate_subject(np.random.default_rng(9), "AD", None, atlas)
    a2, t2 = simulate_subject(np.random.default_rng(9), "AD", None, atlas)
    a3, _ = simulate_subject(np.random.default_rng(10), "AD", None, atlas)
    assert a1.dtype == np.float32 and a1.shape == atlas.shape
    assert np.array_equal(a1, a2) and t1 == t2
    assert np.abs(a1 - a3).max() > 0.05


def test_nc_has_no_disease_but_subject_variability(atlas, paired):
    act, truth = paired["NC"]
    assert truth["regions"] == {} and truth["variant"] == "none" and truth["severity"] == 0
    base = base_activity(atlas)
    brain = atlas.brain
    rel = act[brain] / truth["global_level"] / np.maximum(base[brain], 1e-3)
    cortex = (atlas.gm[brain] > 0.8)
    # heterogeneity and deformation: a few percent, not tens of percent, on average
    assert 0.9 < np.median(rel[cortex]) < 1.1
    assert truth["deformation"]["applied"] and 0.5 < truth["deformation"]["max_mm"] < 10


def test_ad_lowers_temporoparietal_dlb_lowers_occipital(atlas, paired):
    nc, ad, dlb = (paired[k][0] for k in ("NC", "AD", "DLB"))
    parietal = ["angular", "inferior_parietal", "supramarginal", "precuneus"]
    occipital = ["cuneus", "lingual", "middle_occipital", "superior_occipital"]
    r = {lab: {g: _mean(act, atlas, bases) / _mean(nc, atlas, bases)
               for g, bases in (("par", parietal), ("occ", occipital), ("pcc", ["posterior_cingulate"]),
                                ("frontal", ["frontal"]), ("cbl", ["cerebellum"]))}
         for lab, act in (("AD", ad), ("DLB", dlb))}
    assert r["AD"]["par"] < 0.88 and r["AD"]["pcc"] < 0.88
    assert r["AD"]["occ"] > 0.96
    assert r["DLB"]["occ"] < 0.88
    # cingulate island sign: posterior cingulate spared in DLB compared with AD and with occipital
    assert r["DLB"]["pcc"] > r["AD"]["pcc"] + 0.08
    assert r["DLB"]["pcc"] > r["DLB"]["occ"] + 0.08
    for lab in ("AD", "DLB"):   # the same subject elsewhere
        assert abs(r[lab]["frontal"] - 1) < 0.01 and abs(r[lab]["cbl"] - 1) < 0.01


def test_variants(atlas):
    def run(variant: str, seed: int = 2):
        return simulate_subject(np.random.default_rng(seed), "AD",
                                SubjectOptions(variant=variant, severity=(0.2, 0.3)), atlas)[1]
    asym = run("asymmetric")
    weak = asym["disease_draws"]["weaker_side"]
    strong = "L" if weak == "R" else "R"
    assert asym["regions"][f"angular_{weak}"] < 0.75 * asym["regions"][f"angular_{strong}"]
    mild = run("mild")
    assert 0 < mild["severity"] < 0.2
    typical, partial = run("typical"), run("partial")
    assert set(partial["regions"]) < set(typical["regions"])
    assert {"posterior_cingulate_L", "precuneus_R"} <= set(partial["regions"])
    with pytest.raises(ValueError, match="variant"):
        SubjectOptions(variant="severe")


def test_dlb_literature_variants_spare_v1_or_involve_the_posterior_cingulate(atlas):
    """Asked for, world A's DLB spares the medial occipital cortex (V1) or loses the cingulate
    island; the drawn variants, and so every existing seed's studies, are unchanged."""
    def run(variant, label="DLB", seed=5):
        return simulate_subject(np.random.default_rng(seed), label,
                                SubjectOptions(variant=variant, severity=(0.25, 0.25)), atlas)[1]
    typical, spared, no_island = run("typical"), run("occipital_spared_v1"), run("no_cingulate_island")
    r, v1, ci = typical["regions"], spared["regions"], no_island["regions"]
    for side in ("L", "R"):
        assert v1[f"cuneus_{side}"] <= 0.3 * r[f"cuneus_{side}"] and v1[f"lingual_{side}"] <= 0.3 * r[f"lingual_{side}"]
        assert v1[f"middle_occipital_{side}"] == r[f"middle_occipital_{side}"]      # lateral still affected
        assert ci[f"posterior_cingulate_{side}"] >= 0.4 * 0.25 > 3 * r[f"posterior_cingulate_{side}"]
        assert ci[f"cuneus_{side}"] == r[f"cuneus_{side}"]
    assert spared["variant"] == "occipital_spared_v1" and "v1_share" in spared["disease_draws"]
    assert "cingulate_share" in no_island["disease_draws"]
    with pytest.raises(ValueError, match="DLB variant"):
        run("no_cingulate_island", label="AD")
    with pytest.raises(ValueError, match="not a world A variant"):   # refused, not drawn as typical
        disease_regions(np.random.default_rng(5), "DLB", 0.25, "occipital_only")


def test_early_ad_only_in_the_posterior_cingulate_and_precuneus_when_asked(atlas):
    """World A's early AD (made only when asked for): the earliest sites and nothing else; a
    DLB is refused it; the drawn variants, and so every existing seed's studies, are unchanged."""
    def run(variant, label="AD", seed=5):
        return simulate_subject(np.random.default_rng(seed), label,
                                SubjectOptions(variant=variant, severity=(0.25, 0.25)), atlas)[1]
    early, typical = run("early"), run("typical")
    assert set(early["regions"]) == {f"{b}_{s}" for b in ("posterior_cingulate", "precuneus") for s in ("L", "R")}
    assert set(typical["regions"]) > set(early["regions"]) and any(n.startswith("angular") for n in typical["regions"])
    assert early["variant"] == "early"
    with pytest.raises(ValueError, match="an AD variant"):
        disease_regions(np.random.default_rng(5), "DLB", 0.25, "early")
    out = []   # every variant that existed before: the same regions, draws and random stream (pinned)
    for seed in range(30):
        for label in ("AD", "DLB"):
            for variant in VARIANTS + (DLB_VARIANTS if label == "DLB" else ()):
                rng = np.random.default_rng(seed)
                regions, drawn = disease_regions(rng, label, 0.25, variant)
                out.append([sorted((k, round(x, 9)) for k, x in regions.items()), sorted(drawn), float(rng.random())])
    assert hashlib.sha256(json.dumps(out).encode()).hexdigest()[:16] == "c12bb8b8ef80fdec"


def test_apply_reduction_exact_in_one_voi(atlas):
    base = base_activity(atlas)
    out = apply_reduction(base, atlas, ["cuneus_L"], 0.25)
    inside = atlas.voi_mask("cuneus_L")
    assert np.allclose(out[inside], 0.75 * base[inside], rtol=1e-6)
    assert np.array_equal(out[~inside], base[~inside])
    smooth = apply_reduction(base, atlas, ["cuneus_L"], 0.25, edge_fwhm_mm=8)
    assert (smooth[~inside] < base[~inside] - 1e-4).any()   # the edge spreads out
    with pytest.raises(ValueError, match="unknown VOI"):
        apply_reduction(base, atlas, ["cuneus"], 0.25)
    with pytest.raises(ValueError, match="fraction"):
        apply_reduction(base, atlas, ["cuneus_L"], 1.2)


def test_lesions_recorded_as_effective_reduction(atlas):
    act, truth = simulate_subject(np.random.default_rng(1), "NC", SubjectOptions(deform=False), atlas,
                                  lesions=[(["thalamus_R"], 0.25)])
    assert truth["effective_reduction"] == {"thalamus_R": 0.25}
    assert truth["lesions"] == [{"vois": ["thalamus_R"], "fraction": 0.25}]
