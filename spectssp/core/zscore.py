"""Z-scores against a normal database: decrease is positive, as in 3D-SSP."""
from __future__ import annotations

import numpy as np

# Floor for the normal SD, in units of the reference-normalised count. With 28 normals a few
# surface pixels get an SD close to zero by chance; without a floor their Z explodes.
SD_FLOOR = 0.01


def normal_stats(members: np.ndarray, ddof: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD over the first axis of (N, R, P) normalised SSP arrays."""
    if members.shape[0] < 2:
        raise ValueError("a normal database needs at least 2 members")
    return members.mean(axis=0), members.std(axis=0, ddof=ddof)


def decrease_z(values: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Z = (normal mean - patient) / normal SD; increase maps are ``-decrease_z``."""
    with np.errstate(divide="raise", invalid="raise"):
        return ((mean - values) / np.maximum(sd, SD_FLOOR)).astype(np.float32)


def leave_one_out_z(members: np.ndarray) -> np.ndarray:
    """(N, R, P) Z of each member against the other N-1 (no optimistic self-comparison).

    Closed form from the full sums: for member k, the mean of the rest is (S - x_k)/(N-1) and
    the variance follows from the sum of squares, so the cost is that of one pass.
    """
    n = members.shape[0]
    if n < 3:
        raise ValueError("leave-one-out needs at least 3 members")
    x = members.astype(np.float64)
    s1 = x.sum(axis=0)
    s2 = (x * x).sum(axis=0)
    m = (s1[None] - x) / (n - 1)
    var = ((s2[None] - x * x) - (n - 1) * m * m) / (n - 2)
    sd = np.sqrt(np.maximum(var, 0.0))
    return ((m - x) / np.maximum(sd, SD_FLOOR)).astype(np.float32)
