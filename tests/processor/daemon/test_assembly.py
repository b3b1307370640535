"""Series assembly: the quiet period per series, with an injected clock and no inotify."""
from __future__ import annotations

import os

import pytest
from pathlib import Path

from spectssp.errors import ErrorCode
from processor.daemon.assembly import Assembler, read_header, remove_empty_dirs
from tests.helpers.dicom import make_series
from tests.processor.daemon.conftest import FakeClock


def _assembler(root: Path, clock: FakeClock) -> Assembler:
    root.mkdir(parents=True, exist_ok=True)
    return Assembler(root, quiet_s=10.0, clock=clock)


def test_series_completes_only_after_quiet_period_and_trickle_restarts_it(tmp_path: Path) -> None:
    clock = FakeClock()
    root = tmp_path / "in"
    asm = _assembler(root, clock)
    src = make_series(tmp_path / "src", 4, series_uid="1.2.3.4")
    (root / "s").mkdir(parents=True)
    for i, f in enumerate(src[:2]):
        os.replace(f, root / "s" / f.name)
        asm.touch(root / "s" / f.name)
    assert asm.poll() == []
    clock.advance(9.0)
    assert asm.poll() == []
    os.replace(src[2], root / "s" / src[2].name)   # arrives before the quiet period ends
    asm.touch(root / "s")                           # a folder event: the assembler looks inside
    clock.advance(9.0)
    assert asm.poll() == []                         # first two are quiet, the third is not
    clock.advance(1.5)
    assert asm.poll() == []
    clock.advance(9.0)
    ready = asm.poll()
    assert len(ready) == 1 and ready[0].series_uid == "1.2.3.4" and ready[0].error is None
    assert [p.name for p, _ in ready[0].files] == [f.name for f in src[:3]]
    assert asm.pending == 0
    assert asm.poll() == []                         # handed on once


def test_growing_file_restarts_quiet_period(tmp_path: Path) -> None:
    clock = FakeClock()
    root = tmp_path / "in"
    asm = _assembler(root, clock)
    data = make_series(tmp_path / "src", 1)[0].read_bytes()
    target = root / "x.dcm"
    target.write_bytes(data[:200])                  # a copy in progress (header only)
    asm.scan()
    asm.poll()
    clock.advance(8.0)
    with open(target, "ab") as fh:
        fh.write(data[200:])
    assert asm.poll() == []
    clock.advance(8.0)
    assert asm.poll() == []
    clock.advance(2.5)
    assert len(asm.poll()) == 1


def test_unreadable_file_reported_after_quiet_period_and_holds_its_folder(tmp_path: Path) -> None:
    clock = FakeClock()
    root = tmp_path / "in"
    asm = _assembler(root, clock)
    make_series(root / "a", 2, series_uid="1.9")
    (root / "a" / "notes.txt").write_text("not dicom")
    asm.scan()
    asm.poll()
    clock.advance(5.0)
    (root / "a" / "late.txt").write_text("x")       # an unparsed young file in the series folder
    asm.touch(root / "a" / "late.txt")
    clock.advance(5.5)
    out = asm.poll()
    assert [(r.series_uid, r.error.code) for r in out] == [(None, ErrorCode.NOT_DICOM)]
    clock.advance(5.0)
    assert asm.poll() == []                         # the series waits for the young unparsed file
    clock.advance(5.1)
    out = sorted(asm.poll(), key=lambda r: r.series_uid or "")
    assert [r.series_uid for r in out] == [None, "1.9"]
    assert [p.name for p, _ in out[0].files] == ["late.txt"]


def test_dot_names_and_partial_folder_are_ignored(tmp_path: Path) -> None:
    clock = FakeClock()
    root = tmp_path / "in"
    asm = _assembler(root, clock)
    (root / ".partial").mkdir()
    (root / ".partial" / ".recv-1.part").write_bytes(b"half")
    (root / ".hidden.dcm").write_bytes(b"x")
    asm.scan()
    asm.poll()
    clock.advance(60)
    assert asm.poll() == [] and asm.pending == 0


def test_vanished_file_is_forgotten(tmp_path: Path) -> None:
    clock = FakeClock()
    root = tmp_path / "in"
    asm = _assembler(root, clock)
    f = make_series(root, 1)[0]
    asm.scan()
    asm.poll()
    f.unlink()
    clock.advance(20)
    assert asm.poll() == [] and asm.pending == 0


def test_read_header_codes(tmp_path: Path) -> None:
    good = make_series(tmp_path / "g", 1, series_uid="1.5")[0]
    assert read_header(good).series_uid == "1.5"
    assert read_header(good).accession == "ACC1"
    text = tmp_path / "t.txt"
    text.write_text("hello")
    empty = tmp_path / "e.dcm"
    empty.write_bytes(b"")
    for bad, code in [(text, ErrorCode.NOT_DICOM), (empty, ErrorCode.NOT_DICOM)]:
        try:
            read_header(bad)
        except Exception as exc:
            assert exc.code == code
        else:
            raise AssertionError(f"{bad.name} was accepted")


def test_remove_empty_dirs_keeps_young_and_dot_folders(tmp_path: Path) -> None:
    root = tmp_path / "in"
    (root / "old" / "deeper").mkdir(parents=True)
    (root / ".partial").mkdir()
    (root / "full").mkdir()
    (root / "full" / "f").write_text("x")
    for d in (root / "old" / "deeper", root / "old"):
        os.utime(d, (1, 1))
    (root / "young").mkdir()
    remove_empty_dirs(root, min_age_s=60)
    assert sorted(p.name for p in root.iterdir()) == [".partial", "full", "young"]


def test_header_error_is_a_spectssp_error_with_a_rejection_code(tmp_path):
    from processor.daemon.assembly import HeaderError
    from spectssp.errors import SpectSSPError
    p = tmp_path / "notes.txt"
    p.write_text("not an image\n")
    with pytest.raises(HeaderError) as exc:
        read_header(p)
    assert isinstance(exc.value, SpectSSPError) and exc.value.code.is_rejection
    assert exc.value.as_dict() == {"code": "not_dicom", "message": exc.value.message}
