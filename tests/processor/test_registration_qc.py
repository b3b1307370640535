"""Registration QC relative to the normal database's members, and the site template's parts
(pure functions, synthetic values: fast)."""
from __future__ import annotations

import numpy as np
import pytest

from atlas import load_atlas
from atlas.load import BUNDLED_NORMAL_DATABASE
from atlas.normaldb import REFERENCES, NormalDatabase
from processor.config import defaults
from processor.registration_qc import (OUTLIER_MIN_MEMBERS, failure_message, flag_warning, judge, kept_member_qc,
                                       outlier_cut, outliers, screened_at_build)
from processor.site_template import Average, as_stored, mirror_lr, normalised

RULE = dict(absolute=0.85, floor=0.6, warn_margin=0.02, reject_margin=0.08)
MEMBERS = np.array([0.90, 0.88, 0.93, 0.95])


def test_without_members_the_absolute_threshold_decides_as_before():
    for qc, passed in ((0.851, True), (0.85, True), (0.849, False), (0.3, False)):
        v = judge(qc, None, **RULE)
        assert (v.threshold, v.passed, v.flagged, v.members) == (0.85, passed, False, None)
    assert judge(0.9, np.array([]), **RULE).members is None


@pytest.mark.parametrize("qc,passed,flagged", [
    (0.97, True, False),     # above the members' range
    (0.91, True, False),     # inside it
    (0.865, True, False),    # below the minimum 0.88 but within the warn margin 0.02
    (0.855, True, True),     # below min - 0.02: flagged
    (0.80, True, True),      # exactly min - 0.08: still passes, flagged
    (0.799, False, False),   # below min - 0.08: rejected
    (0.5, False, False),
])
def test_relative_rule_flags_and_rejects_at_the_members_minimum_minus_the_margins(qc, passed, flagged):
    v = judge(qc, MEMBERS, **RULE)
    assert (v.passed, v.flagged) == (passed, flagged)
    assert v.threshold == pytest.approx(0.80)
    m = v.members
    assert (m.n, m.min, m.max, m.warn_below, m.reject_below) == (4, 0.88, 0.95, 0.86, 0.8)


def test_relative_rule_is_looser_than_the_absolute_threshold_for_a_site_whose_normals_correlate_less():
    """Issue 15: real normals at r 0.85-0.90 against a fixed 0.85; against its own members' range,
    a study at 0.83 passes (flagged), where the absolute rule rejected it."""
    members = np.array([0.86, 0.87, 0.89, 0.90])
    assert not judge(0.83, None, **RULE).passed
    v = judge(0.83, members, **RULE)
    assert v.passed and v.flagged


def test_the_floor_rejects_gross_failures_whatever_the_members():
    low = np.array([0.55, 0.6, 0.7])
    v = judge(0.58, low, **RULE)
    assert not v.passed and v.threshold == 0.6 and v.members.reject_below == 0.6
    assert judge(0.61, low, **RULE).passed


def test_percentile_is_the_share_of_members_at_or_below_the_study():
    assert judge(0.92, MEMBERS, **RULE).members.percentile == 50.0
    assert judge(0.95, MEMBERS, **RULE).members.percentile == 100.0
    assert judge(0.5, MEMBERS, **RULE).members.percentile == 0.0


def test_messages_say_where_the_value_stands():
    v = judge(0.855, MEMBERS, **RULE)
    text = flag_warning(0.855, v.members)
    assert "0.855" in text and "4 members 0.880-0.950" in text and "0.860" in text
    bad = judge(0.7, MEMBERS, **RULE)
    text = failure_message(0.7, bad, "site")
    assert "site template" in text and "rejected below 0.800" in text and "0.700" in text
    absolute = judge(0.7, None, **RULE)
    assert failure_message(0.7, absolute, "bundled") == ("registration to the template failed quality control "
                                                         "(r = 0.70 < 0.85); see the QC picture.")


def test_default_margins_and_floor_are_consistent():
    r = defaults().registration
    assert 0 < r.qc_warn_margin <= r.qc_reject_margin and r.qc_floor < r.qc_threshold
    assert r.site_template_rounds == 2 and r.site_template_symmetric is False


# -- members whose QC is an outlier of the members' distribution ------------------------------
# world B's 28 members against its site template (/work/data/worldB-site.ndb, rounded)
WORLD_B = np.array([0.755, 0.848, 0.889, 0.899, 0.908, 0.922, 0.929, 0.944, 0.95, 0.953, 0.955, 0.956, 0.959,
                    0.961, 0.966, 0.966, 0.972, 0.976, 0.976, 0.976, 0.978, 0.979, 0.982, 0.983, 0.984, 0.984,
                    0.986, 0.989])


def test_a_member_far_below_the_others_is_an_outlier_and_the_next_lowest_is_not():
    out = outliers(WORLD_B, 0.65)
    assert list(WORLD_B[out]) == [0.755]       # median 0.963, robust SD 0.026: cut at 0.834
    med = np.median(WORLD_B)
    assert outlier_cut(WORLD_B, 0.65) == pytest.approx(med - 5 * 1.4826 * np.median(np.abs(WORLD_B - med)))
    assert 0.83 < outlier_cut(WORLD_B, 0.65) < 0.84
    # the rule reads the spread: 0.755 beside 0.85-0.99 spread evenly (robust SD 0.05) is not an outlier
    even = np.append(np.linspace(0.85, 0.99, 27), 0.755)
    assert not outliers(even, 0.65).any() and outliers(even, 0.80).tolist() == [False] * 27 + [True]


def test_a_tight_or_normal_looking_set_of_members_loses_none():
    assert not outliers(np.linspace(0.95, 0.99, 28), 0.65).any()
    rng = np.random.default_rng(7)
    lost = sum(outliers(0.96 + 0.02 * rng.standard_normal(28), 0.65).any() for _ in range(200))
    assert lost <= 4                            # about 0.5 % of normal sets of 28 lose one member
    assert not outliers(np.full(12, 0.97), 0.65).any()   # no spread: no outlier, not everyone below the median
    # a tight set: the scale's floor keeps the cut at least 0.05 below the median
    tight = np.append(np.linspace(0.975, 0.985, 27), 0.954)
    assert outlier_cut(tight, 0.65) == pytest.approx(np.median(tight) - 5 * 0.01)
    assert not outliers(tight, 0.65).any()
    assert outliers(np.append(tight[:-1], 0.92), 0.65).tolist() == [False] * 27 + [True]


def test_few_members_are_screened_by_the_floor_only():
    few = np.array([0.98, 0.97, 0.96, 0.70, 0.60])
    assert len(few) < OUTLIER_MIN_MEMBERS
    assert list(few[outliers(few, 0.65)]) == [0.60]
    assert outlier_cut(few, 0.65) == 0.65


def test_judge_against_the_kept_members_raises_the_thresholds_an_outlier_had_lowered():
    rule = dict(absolute=0.85, floor=0.65, warn_margin=0.02, reject_margin=0.08)
    old = judge(0.72, WORLD_B, **rule)          # the outlier sets the minimum: 0.755 - 0.08
    assert old.passed and old.flagged and old.threshold == pytest.approx(0.675)
    kept = kept_member_qc(WORLD_B, False, 0.65)
    assert len(kept) == 27 and kept.min() == 0.848
    new = judge(0.72, kept, **rule)
    assert not new.passed and new.threshold == pytest.approx(0.768)
    assert new.members.n == 27 and new.members.min == 0.848 and new.members.warn_below == pytest.approx(0.828)
    assert judge(0.78, kept, **rule).flagged and not judge(0.85, kept, **rule).flagged
    # without an outlier nothing changes
    tight = WORLD_B[1:]
    assert kept_member_qc(tight, False, 0.65).tolist() == tight.tolist()


def test_a_database_screened_at_build_is_not_screened_again():
    kept = WORLD_B[1:]                          # recorded qc_left_out: used as stored
    assert kept_member_qc(kept, True, 0.65) is kept
    assert len(kept_member_qc(WORLD_B, True, 0.65)) == 28   # even with an outlier in it: not screened twice
    assert kept_member_qc(None, False, 0.65) is None
    assert screened_at_build({"qc_left_out": []}) and screened_at_build({"qc_left_out": [{"qc": 0.75}]})
    assert not screened_at_build({}) and not screened_at_build({"qc_left_out": None})


def test_messages_count_the_members_left_out_beside_the_databases_n():
    rule = dict(absolute=0.85, floor=0.65, warn_margin=0.02, reject_margin=0.08)
    kept = kept_member_qc(WORLD_B, False, 0.65)
    flagged = judge(0.80, kept, **rule, left_out=len(WORLD_B) - len(kept))
    assert flagged.flagged and flagged.left_out == 1
    text = flag_warning(0.80, flagged.members, flagged.left_out)
    assert "the normal database's 27 kept members (1 QC outlier of 28 left out) 0.848-0.989" in text
    assert "27 kept members (1 QC outlier of 28 left out)" in failure_message(0.7, judge(0.7, kept, **rule, left_out=1),
                                                                              "site")
    assert "the normal database's 27 members 0.848" in flag_warning(0.80, judge(0.80, kept, **rule).members)


def test_info_of_a_database_built_before_the_rule_says_the_range_studies_are_judged_against(tmp_path, capsys):
    from processor.cli.main import main
    db = _db(None, "bundled", n=len(WORLD_B))
    for member, qc in zip(db.meta["members"], WORLD_B):
        member["qc"] = float(qc)
    db.save(tmp_path / "old.ndb")
    capsys.readouterr()
    assert main(["normaldb", "info", str(tmp_path / "old.ndb")]) == 0
    out = capsys.readouterr().out
    assert "members' QC r 0.755-0.989; studies judged against the 27 kept r 0.848-0.989" in out
    assert "QC outliers: not screened at build; studies are judged without r=0.755" in out


# -- the site template's parts ---------------------------------------------------------------
def test_mirror_is_left_right_about_the_midline():
    atlas = load_atlas()
    x = atlas.world_mm(np.argwhere(np.ones(atlas.shape, bool))[:: 997].astype(float))[:, 0]
    assert abs(x.min() + x.max()) < 1e-6   # the grid is symmetric about x = 0
    vol = np.zeros(atlas.shape, np.float32)
    vol[10, 50, 40] = 1.0
    m = mirror_lr(vol, atlas)
    (i, j, k), = np.argwhere(m > 0)
    ras = atlas.world_mm(np.array([[10, 50, 40], [i, j, k]], float))
    np.testing.assert_allclose(ras[1], ras[0] * [-1, 1, 1])


def test_average_normalises_each_member_and_symmetrises_when_asked():
    atlas = load_atlas()
    rng = np.random.default_rng(1)
    a = Average()
    base = atlas.template
    for scale in (1.0, 3.0, 0.5):   # intensity scale must not weigh a member
        a.add(base * scale * (1 + 0.01 * rng.standard_normal(base.shape)).astype(np.float32))
    t = a.template(atlas, symmetric=False)
    assert t.dtype == np.float32 and t.shape == atlas.shape
    assert np.corrcoef(t[atlas.brain], base[atlas.brain])[0, 1] > 0.99
    np.testing.assert_array_equal(t, as_stored(t))   # what the .ndb stores and processing reads back
    s = a.template(atlas, symmetric=True)
    np.testing.assert_allclose(s, mirror_lr(s, atlas), atol=1e-3)
    with pytest.raises(ValueError, match="no member"):
        Average().template(atlas, symmetric=False)


def test_a_round_keeps_its_members_as_float16_and_averages_them_as_before():
    atlas = load_atlas()
    rng = np.random.default_rng(2)
    vols = [atlas.template * s * (1 + 0.02 * rng.standard_normal(atlas.shape)).astype(np.float32) for s in (1, 4)]
    kept = [normalised(v) for v in vols]
    assert all(k.dtype == np.float16 and k.nbytes == atlas.template.size * 2 for k in kept)
    raw, half = Average(), Average()
    for v, k in zip(vols, kept):
        raw.add(v)
        half.add(k, is_normalised=True)
    np.testing.assert_allclose(half.template(atlas, False), raw.template(atlas, False), atol=2e-3)


# -- the .ndb: template stored and loaded, old files unchanged --------------------------------
def _db(template=None, member_qc_template=None, n=4):
    rng = np.random.default_rng(0)
    meta = {"tracer": "123I-IMP", "depth_mm": 13.5,
            "members": [{"series_uid": f"1.2.{i}", "qc": 0.9 + 0.01 * i} for i in range(n)]}
    if member_qc_template:
        meta["member_qc_template"] = member_qc_template
    return NormalDatabase(rng.uniform(90, 110, (n, 30)).astype(np.float32),
                          rng.uniform(60, 90, (n, len(REFERENCES))).astype(np.float32), None, meta,
                          template=template)


def test_site_template_round_trips_through_the_file(tmp_path):
    atlas = load_atlas()
    t = as_stored(atlas.template * 1.3)
    _db(t, "site").save(tmp_path / "s.ndb")
    back = NormalDatabase.load(tmp_path / "s.ndb", volumes=False)
    np.testing.assert_array_equal(back.template, t)
    assert back.template_kind == "site"
    np.testing.assert_allclose(back.member_qc(), [0.9, 0.91, 0.92, 0.93])
    assert back.without(0).template is back.template


def test_member_qc_only_against_the_template_in_use(tmp_path):
    assert _db(None, None).member_qc() is None                    # older databases: absolute rule
    assert _db(None, "site").member_qc() is None                  # measured against another template
    assert _db(None, "bundled").member_qc() is not None
    db = _db(None, "bundled")
    db.meta["members"][1]["qc"] = None                            # one member without a value: none
    assert db.member_qc() is None


def test_a_bad_template_is_a_readable_error(tmp_path):
    t = np.full((4, 4, 4), np.nan, np.float32)
    _db(t, "site").save(tmp_path / "bad.ndb")
    with pytest.raises(ValueError, match="not a readable spectssp normal database.*site template"):
        NormalDatabase.load(tmp_path / "bad.ndb")


def test_the_bundled_database_has_no_template_and_keeps_the_absolute_rule():
    db = NormalDatabase.load(BUNDLED_NORMAL_DATABASE, volumes=False)
    assert db.template is None and db.template_kind == "bundled" and db.member_qc() is None
