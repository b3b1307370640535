"""Headers first, pixels one series at a time: ``scan_series`` reads no pixel data until a
series is reached (the pipeline processes and drops each before the next is read)."""
from __future__ import annotations

import pytest

from processor.bench_intake import write_folder
from processor.intake import load as intake_load
from processor.intake import load_series, scan_series


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("scan")
    write_folder(root, 3, matrix=64)
    return root


def test_pixels_are_read_only_when_each_series_is_reached(folder, monkeypatch):
    read = []
    full = intake_load.read_full

    def counting(fh):
        read.append(fh.path.parent.name)
        return full(fh)

    monkeypatch.setattr(intake_load, "read_full", counting)
    scan = scan_series([folder])
    assert len(scan) == 3 and scan.n_files == 3 and read == []   # headers only so far
    it = iter(scan)
    first = next(it)
    assert first.ok and first.image is not None and read == ["series_000"]
    rest = list(it)
    assert read == ["series_000", "series_001", "series_002"] and all(s.ok for s in rest)
    assert all(s.read_s > 0 for s in [first, *rest])


def test_load_series_is_the_same_series_all_at_once(folder):
    eager = load_series([folder])
    lazy = list(scan_series([folder]))
    assert [s.series_uid for s in eager] == [s.series_uid for s in lazy]
    assert [s.matrix for s in eager] == [s.matrix for s in lazy] == [(64, 64, 64)] * 3
