"""Receiver and sender against each other and against dcmtk, on 127.0.0.1."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pydicom
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from processor.net.scp import start_scp
from processor.net.scu import send_files
from tests.helpers.orthanc import free_port
from tests.helpers.tools import require_tool
import pytest


def _files(incoming: Path) -> list[Path]:
    return sorted(p for p in incoming.rglob("*.dcm") if ".partial" not in p.parts)


def test_c_echo(scp) -> None:  # type: ignore[no-untyped-def]
    _, port, _, _ = scp
    ae = AE(ae_title="SPECTSSP")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title="TESTSCP")
    try:
        assert assoc.is_established
        assert assoc.send_c_echo().Status == 0x0000
    finally:
        assoc.release()


def test_our_scu_stores_atomically_under_uid_names(scp, outputs) -> None:  # type: ignore[no-untyped-def]
    _, port, incoming, received = scp
    src, paths = outputs
    results = send_files(paths, "TESTSCP", "127.0.0.1", port, calling_aet="SPECTSSP", timeout_s=10)
    assert [r.ok for r in results] == [True, True] and all(r.status == 0 for r in results)
    stored = _files(incoming)
    assert len(stored) == 2 and sorted(received) == stored
    for p in stored:
        ds = pydicom.dcmread(p)
        assert p.relative_to(incoming).parts == (ds.StudyInstanceUID, ds.SeriesInstanceUID,
                                                 f"{ds.SOPInstanceUID}.dcm")
        assert ds.StudyInstanceUID == src.StudyInstanceUID
    assert list((incoming / ".partial").iterdir()) == []


@pytest.mark.integration
def test_dcmtk_storescu_and_echoscu(scp, source_file) -> None:  # type: ignore[no-untyped-def]
    storescu = require_tool("/usr/bin/storescu")
    echoscu = require_tool("/usr/bin/echoscu")
    _, port, incoming, _ = scp
    run = lambda *a: subprocess.run(list(a), capture_output=True, text=True, timeout=60)  # noqa: E731
    assert run(echoscu, "-aet", "STORESCU", "-aec", "TESTSCP", "127.0.0.1", str(port)).returncode == 0
    proc = run(storescu, "-aet", "STORESCU", "-aec", "TESTSCP", "127.0.0.1", str(port), str(source_file))
    assert proc.returncode == 0, proc.stderr
    stored = _files(incoming)
    assert len(stored) == 1
    assert pydicom.dcmread(stored[0]).SOPInstanceUID == pydicom.dcmread(source_file).SOPInstanceUID
    refused = run(echoscu, "-aet", "INTRUDER", "-aec", "TESTSCP", "127.0.0.1", str(port))
    assert refused.returncode != 0
    assert "reject" in (refused.stdout + refused.stderr).lower()


def test_calling_aet_not_allowed_is_refused(scp, outputs) -> None:  # type: ignore[no-untyped-def]
    _, port, incoming, _ = scp
    _, paths = outputs
    results = send_files(paths, "TESTSCP", "127.0.0.1", port, calling_aet="INTRUDER", timeout_s=10)
    assert not any(r.ok for r in results)
    assert all(r.error is not None and r.error.code == "delivery_failed" for r in results)
    assert "rejected" in results[0].error.message  # type: ignore[union-attr]
    assert _files(incoming) == []


def test_size_bound_answers_out_of_resources(tmp_path: Path, outputs) -> None:  # type: ignore[no-untyped-def]
    _, paths = outputs
    server = start_scp("TESTSCP", 0, tmp_path / "in", [], max_object_bytes=1000)
    try:
        results = send_files(paths[:1], "TESTSCP", "127.0.0.1", server.server_address[1],
                             calling_aet="ANYONE", timeout_s=10)
    finally:
        server.shutdown()
    assert results[0].ok is False and results[0].status == 0xA700
    assert "0xA700" in results[0].error.message  # type: ignore[union-attr]
    assert _files(tmp_path / "in") == []


def test_nothing_listening_is_a_clear_error(outputs) -> None:  # type: ignore[no-untyped-def]
    _, paths = outputs
    port = free_port()
    results = send_files(paths, "NOBODY", "127.0.0.1", port, calling_aet="SPECTSSP", timeout_s=5)
    assert [r.ok for r in results] == [False, False]
    assert all(r.status is None and "NOBODY@127.0.0.1" in r.error.message for r in results)  # type: ignore[union-attr]


def test_unreadable_file_is_reported_not_raised(tmp_path: Path, scp) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"not dicom")
    _, port, _, _ = scp
    [res] = send_files([bad], "TESTSCP", "127.0.0.1", port, calling_aet="SPECTSSP", timeout_s=5)
    assert res.ok is False and res.error is not None and "cannot be read" in res.error.message


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_path_like_study_uid_is_refused_not_written(tmp_path: Path, scp) -> None:  # type: ignore[no-untyped-def]
    import warnings
    from tests.helpers.dicom import make_source_nm, save
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = make_source_nm()
        ds.StudyInstanceUID = "../../evil"
        path = save(ds, tmp_path / "evil.dcm")
    _, port, incoming, received = scp
    [res] = send_files([path], "TESTSCP", "127.0.0.1", port, calling_aet="SPECTSSP", timeout_s=5)
    assert res.ok is False and res.status == 0xC000
    assert _files(incoming) == [] and received == []
    assert not (tmp_path / "evil").exists()
