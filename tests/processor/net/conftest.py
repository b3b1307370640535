"""Fixtures for network tests: a real SCP on 127.0.0.1 and output files to send."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from pydicom.uid import generate_uid

from processor.dicom_out import write_secondary_capture, write_structured_report
from processor.net.scp import start_scp
from tests.helpers.dicom import make_source_nm, result, rgb_image, save


@pytest.fixture
def scp(tmp_path: Path) -> Iterator[tuple[object, int, Path, list[Path]]]:
    """(server, port, incoming dir, received paths) for an SCP accepting only SPECTSSP/STORESCU."""
    incoming = tmp_path / "incoming"
    received: list[Path] = []
    server = start_scp("TESTSCP", 0, incoming, ["SPECTSSP", "STORESCU"],
                       on_received=lambda p, study, series: received.append(p))
    try:
        yield server, server.server_address[1], incoming, received
    finally:
        server.shutdown()


@pytest.fixture
def outputs(tmp_path: Path) -> tuple[object, list[Path]]:
    """(source dataset, [SC path, SR path]) written by our DICOM writers."""
    src = make_source_nm()
    out = tmp_path / "out"
    sc = write_secondary_capture(src, rgb_image(), kind="ssp-sheet", series_uid=generate_uid(),
                                 series_number=9901, instance_number=1, description="3D-SSP sheet",
                                 out_dir=out, software_version="0.1.0")
    sr = write_structured_report(src, result(), series_uid=generate_uid(), series_number=9903,
                                 out_dir=out, software_version="0.1.0", model_card_sha256=None)
    return src, [sc.path, sr.path]


@pytest.fixture
def source_file(tmp_path: Path) -> Path:
    return save(make_source_nm(), tmp_path / "src" / "nm.dcm")
