"""Where Grad-CAM looks: the region masks in composite space and the heat shares."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from atlas.render.composite import PAPER_LAYOUT
from models import CLASSES
from models.evaluate import gradcam_localisation, localisation_markdown, region_masks


@pytest.fixture(scope="module")
def masks(atlas):
    return region_masks(atlas, 160)


def test_masks_sit_where_the_regions_are(masks):
    brain, ad, dlb = masks["brain"], masks["AD"], masks["DLB"]
    assert ad.any() and dlb.any()
    assert not (ad & ~brain).any() and not (dlb & ~brain).any()
    # the parietal (AD) and occipital (DLB) regions barely overlap in the composite
    assert (ad & dlb).sum() < 0.15 * min(ad.sum(), dlb.sum())
    # DLB regions are posterior: on the right lateral view (top-left quadrant, nose to the
    # right) they sit further left than the AD regions
    cols = np.arange(160)[None, :]
    top_left = np.zeros_like(brain)
    top_left[:80, :80] = True
    assert (cols * (dlb & top_left)).sum() / (dlb & top_left).sum() < (cols * (ad & top_left)).sum() / (ad & top_left).sum()


def _pred(cls: str, heat: np.ndarray):
    probs = np.full(3, 0.1)
    probs[CLASSES.index(cls)] = 0.8
    return SimpleNamespace(top=int(np.argmax(probs)), heat=heat.astype(np.float32), layout=PAPER_LAYOUT)


def test_heat_shares_follow_the_heat(atlas, masks):
    entries = [("AD", "AD/1", _pred("AD", masks["AD"])),
               ("DLB", "DLB/1", _pred("DLB", masks["DLB"])),
               ("DLB", "DLB/2", _pred("AD", masks["AD"])),          # a wrong call: not counted
               ("NC", "NC/1", _pred("NC", masks["brain"]))]
    loc = gradcam_localisation(entries, atlas)
    assert loc["AD"]["calls"] == 1 and loc["DLB"]["calls"] == 1
    assert loc["AD"]["heat_share_AD_regions"] == pytest.approx(1.0)
    assert loc["DLB"]["heat_share_DLB_regions"] == pytest.approx(1.0)
    assert loc["AD"]["heat_share_DLB_regions"] < 0.15
    assert loc["AD"]["hottest_tenth_in_AD_regions"] > 0.95 and loc["DLB"]["hottest_tenth_in_DLB_regions"] > 0.95
    area = loc["area_share"]
    assert 0 < area["AD_regions"] < 0.5 and 0 < area["DLB_regions"] < 0.5
    text = "\n".join(localisation_markdown(loc))
    assert "| AD | 1 | 1.00 |" in text


def test_no_correct_disease_calls_gives_no_table(atlas):
    assert localisation_markdown(gradcam_localisation([], atlas)) == []


def test_the_posterior_view_of_the_2x3_layout_faces_the_dlb_regions(atlas, masks):
    """In 2 x 3 the four paper views are where and what they are in 2 x 2, and the POST view
    (top right) is the one where the DLB (occipital) regions cover most of the brain."""
    from atlas.render.composite import LAYOUTS
    layout = LAYOUTS["2x3"]
    wide = region_masks(atlas, 160, layout)
    assert wide["brain"].shape == (160, 240)
    for name in ("brain", "AD", "DLB"):
        np.testing.assert_array_equal(wide[name][:, :160], masks[name])
    share = {}
    for view, (t, left, b, r) in layout.view_boxes(160).items():
        brain = wide["brain"][t:b, left:r].sum()
        share[view] = (wide["DLB"][t:b, left:r].sum() / brain, wide["AD"][t:b, left:r].sum() / brain)
    assert max(share, key=lambda v: share[v][0]) == "POST"
    assert share["POST"][0] > 0.3 and share["POST"][0] > share["POST"][1]
