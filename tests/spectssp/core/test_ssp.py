"""spectssp.core.ssp: reference means, SSP extraction, normalisation (pure numpy)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from spectssp.core.ssp import extract_ssp, normalise, reference_means

SHAPE = (12, 10, 8)


def _volume(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(10.0, 200.0, SHAPE).astype(np.float32)


def _samples(seed: int, p: int = 50, d: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, int(np.prod(SHAPE)), size=(p, d)).astype(np.int64)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_extract_ssp_is_max_along_sample_table(seed):
    vol = _volume(seed)
    samples = _samples(seed + 10)
    got = extract_ssp(vol, samples)
    flat = vol.ravel()
    expected = np.array([max(flat[i] for i in row) for row in samples], dtype=np.float32)
    assert got.shape == (samples.shape[0],)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


def test_extract_ssp_picks_a_deep_maximum():
    # One pixel, samples along a line: the peak is at the third sample, not at the surface.
    vol = np.zeros(SHAPE, np.float32)
    line = [np.ravel_multi_index((i, 5, 4), SHAPE) for i in range(6)]
    vol.ravel()[line] = [1, 2, 9, 3, 1, 0]
    assert extract_ssp(vol, np.array([line]))[0] == 9.0


def test_extract_ssp_uses_volume_order_of_flat_indices():
    vol = np.arange(np.prod(SHAPE), dtype=np.float32).reshape(SHAPE)
    idx = np.ravel_multi_index((3, 4, 5), SHAPE)
    assert extract_ssp(vol, np.array([[idx, idx]]))[0] == vol[3, 4, 5]


def test_normalise_equals_projecting_normalised_volume():
    vol = _volume(3)
    samples = _samples(4)
    refs = {"GLB": np.arange(0, 400, dtype=np.int64), "CBL": np.arange(500, 560, dtype=np.int64)}
    means = reference_means(vol, refs)
    order = ["CBL", "GLB"]
    got = normalise(extract_ssp(vol, samples), means, order)
    assert got.shape == (2, samples.shape[0])
    for row, name in enumerate(order):
        expected = extract_ssp(vol / np.float32(means[name]), samples)
        np.testing.assert_allclose(got[row], expected, rtol=1e-6)


def test_reference_means_values():
    vol = np.zeros(SHAPE, np.float32)
    vol.ravel()[:10] = 4.0
    vol.ravel()[10:20] = 6.0
    refs = {"A": np.arange(0, 10), "B": np.arange(0, 20), "C": np.arange(10, 20)}
    assert reference_means(vol, refs) == pytest.approx({"A": 4.0, "B": 5.0, "C": 6.0})


@pytest.mark.parametrize("case", ["empty", "zero", "negative", "nan"])
def test_reference_means_rejects_regions_without_counts(case):
    vol = _volume(5)
    idx = np.arange(10, 30)
    if case == "empty":
        idx = np.array([], dtype=np.int64)
    elif case == "zero":
        vol.ravel()[idx] = 0.0
    elif case == "negative":
        vol.ravel()[idx] = -1.0
    else:
        vol.ravel()[idx] = np.nan
    refs = {"GLB": np.arange(100, 200), "PNS": idx}
    with pytest.raises(ValueError, match="PNS"):
        reference_means(vol, refs)


def test_core_imports_no_io_or_heavy_library():
    banned = ["pydicom", "ants", "watchdog", "pynetdicom", "torch", "SimpleITK"]
    code = (
        "import json, sys\n"
        "import spectssp.core, spectssp.core.ssp, spectssp.core.zscore, spectssp.core.regions\n"
        f"banned = {banned!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in banned)))\n"
    )
    proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                          timeout=60, cwd="/")
    assert proc.returncode == 0, proc.stderr
    # -I ignores the working directory, so processor must come from the installed (editable) package
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
