"""Delivery to a real PACS: Debian's Orthanc on 127.0.0.1 with its own config and ports."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Iterator

import pydicom
import pytest
from PIL import Image

from processor.net.outbox import DELIVERED, Destination, Outbox
from processor.net.scu import send_files
from tests.helpers.orthanc import ORTHANC, OrthancServer, start_orthanc
from tests.helpers.tools import require_tool

pytestmark = pytest.mark.integration


@pytest.fixture
def orthanc(tmp_path: Path) -> Iterator[OrthancServer]:
    require_tool(ORTHANC)
    server = start_orthanc(tmp_path / "orthanc")
    try:
        yield server
    finally:
        server.stop()


def test_sc_and_sr_land_in_the_source_study(orthanc: OrthancServer, outputs) -> None:  # type: ignore[no-untyped-def]
    src, paths = outputs
    results = send_files(paths, orthanc.aet, "127.0.0.1", orthanc.dicom_port,
                         calling_aet="SPECTSSP", timeout_s=15)
    assert [r.ok for r in results] == [True, True], [r.error for r in results]
    instances = orthanc.get("/instances")
    assert len(instances) == 2
    sop_classes = {}
    for iid in instances:
        tags = orthanc.get(f"/instances/{iid}/simplified-tags")
        sop_classes[tags["SOPClassUID"]] = iid
        series = orthanc.get(f"/series/{orthanc.get(f'/instances/{iid}')['ParentSeries']}")
        study = orthanc.get(f"/studies/{series['ParentStudy']}")
        assert study["MainDicomTags"]["StudyInstanceUID"] == src.StudyInstanceUID
        assert series["MainDicomTags"]["SeriesInstanceUID"] == tags["SeriesInstanceUID"]
    assert set(sop_classes) == {"1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.88.33"}
    assert len(orthanc.get("/studies")) == 1 and len(orthanc.get("/series")) == 2
    png = orthanc.get_bytes(f"/instances/{sop_classes['1.2.840.10008.5.1.4.1.1.7']}/frames/0/preview")
    with Image.open(io.BytesIO(png)) as im:
        assert im.size == (90, 60)


def test_orthanc_stopped_during_delivery_then_started(tmp_path: Path, orthanc: OrthancServer,
                                                      outputs) -> None:  # type: ignore[no-untyped-def]
    _, paths = outputs
    now = [0.0]
    box = Outbox(tmp_path / "state", retry_initial_s=5, retry_max_s=60, timeout_s=10,
                 calling_aet="SPECTSSP", clock=lambda: now[0])
    try:
        box.enqueue(paths, Destination("pacs", orthanc.aet, "127.0.0.1", orthanc.dicom_port))
        orthanc.stop()
        assert box.deliver_due() == {"delivered": 0, "retry": 2, "failed": 0}
        assert box.summary()["pacs"]["pending"] == 2
        orthanc.start()
        assert orthanc.get("/instances") == []
        now[0] += 5
        assert box.deliver_due() == {"delivered": 2, "retry": 0, "failed": 0}
        now[0] += 1000
        assert box.deliver_due() == {"delivered": 0, "retry": 0, "failed": 0}
        assert [i["state"] for i in box.items()] == [DELIVERED, DELIVERED]
    finally:
        box.close()
    stats = orthanc.get("/statistics")
    assert stats["CountInstances"] == 2
    uids = {orthanc.get(f"/instances/{i}/simplified-tags")["SOPInstanceUID"] for i in orthanc.get("/instances")}
    assert uids == {str(pydicom.dcmread(p).SOPInstanceUID) for p in paths}
