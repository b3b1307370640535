"""Shared fixtures for the classifier tests: a small synthetic normal database.

Members are the atlas template times smooth random multiplicative fields (already in MNI space,
so no registration is needed), built with the real NormalDatabaseBuilder.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage


def synthetic_members(atlas, n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        coarse = rng.standard_normal((12, 14, 12)).astype(np.float32)
        field = ndimage.zoom(coarse, np.array(atlas.shape) / np.array(coarse.shape), order=1)
        field = ndimage.gaussian_filter(field, 2.0)
        field /= field.std() + 1e-9
        vol = atlas.template * (1.0 + 0.03 * field) * rng.uniform(0.9, 1.1)
        out.append(np.where(atlas.brain, vol, 0.0).astype(np.float32))
    return out


@pytest.fixture(scope="session")
def atlas():
    from atlas import load_atlas
    return load_atlas()


@pytest.fixture(scope="session")
def small_ndb(atlas):
    from atlas.normaldb_build import NormalDatabaseBuilder
    b = NormalDatabaseBuilder(atlas, 13.5, "IMP")
    for i, v in enumerate(synthetic_members(atlas, 6, seed=7)):
        b.add(v, {"series_uid": f"1.2.3.{i}", "age": 60 + i})
    return b.build(note="synthetic test database")
