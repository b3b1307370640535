"""The bundled model's atypicality check on patterns outside its three classes: a strong
frontal (FTD-like) decrease is flagged and reported ``indeterminate``; a held-out normal and an
AD pattern of the same strength are not. Measured numbers: docs/classifier.md."""
from __future__ import annotations

import pytest

from atlas import voi
from atlas.analysis import SSPAnalyser
from atlas.load import BUNDLED_NORMAL_DATABASE
from atlas.normaldb import NormalDatabase
from models import BUNDLED_MODEL_DIR
from models.inference import load_classifier
from models.simulate import lower_counts, member_volume, paper_regions, reduction_map

MEMBER = 25   # held out of the bundled model's training images (its card's validation members)


@pytest.fixture(scope="module")
def bundled():
    ndb = NormalDatabase.load(BUNDLED_NORMAL_DATABASE)
    clf = load_classifier(BUNDLED_MODEL_DIR, "cpu")
    assert MEMBER in clf.card["data"]["validation_members"]
    return ndb, clf


def _classify(atlas, ndb, clf, regions: dict[str, float]):
    vol = member_volume(ndb, atlas, MEMBER)
    if regions:
        vol = lower_counts(vol, reduction_map(atlas, regions, 12.0))
    ssp = SSPAnalyser(atlas, ndb.without(MEMBER), 13.5, 2.0).analyse(vol)
    return clf.predict_ssp(atlas.surface, ssp).classification(0.5)


def test_strong_frontal_decrease_is_atypical(atlas, bundled):
    ndb, clf = bundled
    res = _classify(atlas, ndb, clf, {v: 0.30 for v in voi.both("frontal")})
    assert res.atypical.flagged and res.label == "indeterminate"


def test_normal_and_ad_of_the_same_strength_are_typical(atlas, bundled):
    ndb, clf = bundled
    normal = _classify(atlas, ndb, clf, {})
    ad = _classify(atlas, ndb, clf, paper_regions("AD", 0.30))
    assert not normal.atypical.flagged and normal.label == "NC"
    assert not ad.atypical.flagged and ad.label == "AD"
    assert ad.atypical.distance < ad.atypical.threshold
