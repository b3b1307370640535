"""spectssp.core.zscore: normal statistics, decrease Z, SD floor, leave-one-out Z."""
from __future__ import annotations

import numpy as np
import pytest

from spectssp.core.zscore import SD_FLOOR, decrease_z, leave_one_out_z, normal_stats


def test_normal_stats_mean_and_sample_sd():
    members = np.array([[[1.0, 2.0]], [[3.0, 2.0]], [[5.0, 2.0]]])  # (N=3, R=1, P=2)
    mean, sd = normal_stats(members)
    np.testing.assert_allclose(mean, [[3.0, 2.0]])
    np.testing.assert_allclose(sd, [[2.0, 0.0]])  # ddof=1: sqrt(((-2)^2 + 0 + 2^2) / 2)


def test_normal_stats_needs_two_members():
    with pytest.raises(ValueError):
        normal_stats(np.ones((1, 2, 5)))


def test_decrease_is_positive_when_patient_is_lower():
    mean = np.array([1.0, 1.0, 1.0])
    sd = np.array([0.1, 0.1, 0.1])
    z = decrease_z(np.array([0.8, 1.0, 1.15]), mean, sd)
    np.testing.assert_allclose(z, [2.0, 0.0, -1.5], rtol=1e-5)
    assert z.dtype == np.float32


def test_sd_floor_bounds_z_where_normals_agree_exactly():
    mean = np.array([1.0, 1.0])
    sd = np.array([0.0, SD_FLOOR / 10])
    z = decrease_z(np.array([0.9, 0.9]), mean, sd)
    assert np.all(np.isfinite(z))
    np.testing.assert_allclose(z, [0.1 / SD_FLOOR] * 2, rtol=1e-5)
    # above the floor the SD itself is used
    np.testing.assert_allclose(decrease_z(np.array([0.9]), np.array([1.0]), np.array([0.05])), [2.0],
                               rtol=1e-5)


def _brute_force_loo(members: np.ndarray) -> np.ndarray:
    out = np.empty(members.shape, np.float32)
    for k in range(members.shape[0]):
        rest = np.delete(members, k, axis=0)
        mean = rest.mean(axis=0)
        sd = rest.std(axis=0, ddof=1)
        out[k] = (mean - members[k]) / np.maximum(sd, SD_FLOOR)
    return out


@pytest.mark.parametrize("shape,seed", [((3, 1, 5), 0), ((4, 2, 17), 1), ((10, 4, 300), 2),
                                        ((28, 4, 1000), 3), ((7, 3, 1), 4)])
def test_leave_one_out_equals_brute_force(shape, seed):
    rng = np.random.default_rng(seed)
    # realistic normalised SSP values: around 1 with a few percent spread
    members = (1.0 + 0.05 * rng.standard_normal(shape)).astype(np.float32)
    got = leave_one_out_z(members)
    assert got.shape == shape
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, _brute_force_loo(members.astype(np.float64)), rtol=1e-4, atol=1e-4)


def test_leave_one_out_equals_brute_force_on_raw_counts():
    # Large values and small spread: the closed form must not lose precision to cancellation.
    rng = np.random.default_rng(5)
    members = 5000.0 + 3.0 * rng.standard_normal((12, 2, 200))
    np.testing.assert_allclose(leave_one_out_z(members), _brute_force_loo(members), rtol=1e-4, atol=1e-3)


def test_leave_one_out_with_constant_pixels_uses_sd_floor():
    rng = np.random.default_rng(6)
    members = 1.0 + 0.05 * rng.standard_normal((6, 1, 10))
    members[:, :, 3] = 0.9   # all members identical at pixel 3
    members[2, :, 4] = 0.5   # one outlier at pixel 4: the others are identical there
    members[np.arange(6) != 2, :, 4] = 1.0
    got = leave_one_out_z(members)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got[:, :, 3], 0.0, atol=1e-3)
    # member 2 against five identical members: (1.0 - 0.5) / floor
    assert got[2, 0, 4] == pytest.approx(0.5 / SD_FLOOR, rel=1e-3)
    np.testing.assert_allclose(got, _brute_force_loo(members), rtol=1e-4, atol=1e-3)


def test_leave_one_out_member_excluded_from_its_own_reference():
    # With self-comparison an extreme member would pull the mean toward itself; LOO must not.
    members = np.ones((5, 1, 1)) + np.array([0.0, 0.01, -0.01, 0.02, -0.5])[:, None, None]
    z = leave_one_out_z(members)
    rest = members[:4, 0, 0]
    expected = (rest.mean() - (-0.5 + 1.0)) / max(rest.std(ddof=1), SD_FLOOR)
    assert z[4, 0, 0] == pytest.approx(expected, rel=1e-4)
    assert z[4, 0, 0] > 20


def test_leave_one_out_needs_three_members():
    with pytest.raises(ValueError):
        leave_one_out_z(np.ones((2, 1, 4)))
