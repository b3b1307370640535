"""The resolution references cache: read back identical, keyed by its inputs, rebuilt when bad."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from atlas.resolution_cache import cached_matcher, references_key
from spectssp.core.resolution import ResolutionMatcher


@pytest.fixture
def volume() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    sharp = np.zeros((24, 24, 24), np.float32)
    sharp[6:18, 6:18, 6:18] = rng.uniform(0.5, 1.5, (12, 12, 12))
    mask = np.zeros(sharp.shape, bool)
    mask[4:20, 4:20, 4:20] = True
    return sharp, mask


def test_built_once_then_read_back_identical(tmp_path, volume):
    sharp, mask = volume
    first = cached_matcher(sharp, mask, 2.0, {"atlas_sha256": "abc"}, cache_dir=tmp_path)
    (npy,) = tmp_path.glob("*.npy")
    meta = json.loads(npy.with_suffix(".json").read_text())
    assert meta["atlas_sha256"] == "abc" and meta["shape"] == list(first.references.shape)
    again = cached_matcher(sharp, mask, 2.0, cache_dir=tmp_path)
    assert isinstance(again.references, np.memmap)
    fresh = ResolutionMatcher(sharp, mask, 2.0)
    assert np.array_equal(again.references, fresh.references) and np.array_equal(again.index, fresh.index)
    blurred = fresh.references[5]   # any volume: both give the same estimate
    test = np.zeros(sharp.size)
    test[fresh.index] = blurred
    assert again.estimate(test.reshape(sharp.shape)) == fresh.estimate(test.reshape(sharp.shape))


def test_key_follows_every_input(volume):
    sharp, mask = volume
    key = references_key(sharp, mask, 2.0)
    other = sharp.copy()
    other[10, 10, 10] += 1
    assert len({key, references_key(other, mask, 2.0), references_key(sharp, ~mask, 2.0),
                references_key(sharp, mask, 3.0), references_key(sharp, mask, 2.0, (5.0, 6.0, 7.0))}) == 5


def test_truncated_cache_is_rebuilt(tmp_path, volume, caplog):
    sharp, mask = volume
    cached_matcher(sharp, mask, 2.0, cache_dir=tmp_path)
    (npy,) = tmp_path.glob("*.npy")
    npy.write_bytes(npy.read_bytes()[:1000])
    with caplog.at_level(logging.WARNING):
        m = cached_matcher(sharp, mask, 2.0, cache_dir=tmp_path)
    assert "rebuilding" in caplog.text
    assert np.array_equal(m.references, ResolutionMatcher(sharp, mask, 2.0).references)
    assert np.load(npy).shape == m.references.shape


def test_unwritable_cache_only_costs_the_build(tmp_path, volume):
    sharp, mask = volume
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    m = cached_matcher(sharp, mask, 2.0, cache_dir=blocker / "cache")
    assert m.references.shape == (23, int(mask.sum()))


def test_references_that_do_not_fit_are_refused(volume):
    sharp, mask = volume
    with pytest.raises(ValueError, match="do not fit"):
        ResolutionMatcher(sharp, mask, 2.0, references=np.zeros((3, 5)))
