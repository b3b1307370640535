"""SC images join the source study, validate with dciodvfy and render with dcmtk."""
from __future__ import annotations

import subprocess
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from processor.dicom_out import RUO_TEXT, write_secondary_capture
from processor.result import OutputEntry
from tests.helpers.dicom import make_source_nm, rgb_image
from tests.helpers.tools import require_tool


def _write(tmp_path: Path, kind: str = "ssp-sheet", **kw):  # type: ignore[no-untyped-def]
    src = kw.pop("source", None) or make_source_nm()
    series = generate_uid()
    rec = write_secondary_capture(src, kw.pop("rgb", rgb_image()), kind=kind, series_uid=series,
                                  series_number=9901, instance_number=1,
                                  description="3D-SSP Z-score sheet, decrease", out_dir=tmp_path,
                                  software_version="0.1.0")
    return src, series, rec


def test_sc_copies_study_and_adds_new_series(tmp_path: Path) -> None:
    src, series, rec = _write(tmp_path)
    ds = pydicom.dcmread(rec.path)
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert ds.StudyInstanceUID == src.StudyInstanceUID
    assert ds.SeriesInstanceUID == series == rec.series_uid
    assert ds.SOPInstanceUID == rec.sop_instance_uid != src.SOPInstanceUID
    assert ds.SOPClassUID == rec.sop_class_uid == "1.2.840.10008.5.1.4.1.1.7"
    assert str(ds.PatientName) == "Müller^Jürgen"
    assert ds.PatientBirthDate == ""
    assert ds.SeriesNumber == 9901
    assert "RESEARCH USE ONLY" in ds.SeriesDescription
    assert RUO_TEXT in ds.ImageComments
    assert ds.BurnedInAnnotation == "YES"
    assert ds.BodyPartExamined == "BRAIN"
    ours = [e for e in ds.ContributingEquipmentSequence if e.get("ManufacturerModelName") == "spectssp"]
    assert ours and ours[0].SoftwareVersions == "0.1.0"
    assert ours[0].PurposeOfReferenceCodeSequence[0].CodeValue == "109102"
    assert any("PatientBirthDate" in w for w in rec.warnings)
    assert rec.path.name == f"SC_{rec.sop_instance_uid}.dcm"
    assert [p.name for p in tmp_path.iterdir()] == [rec.path.name]  # no temp file left
    assert np.array_equal(ds.pixel_array, rgb_image())
    assert rec.as_result_output() == OutputEntry("ssp-sheet", str(rec.path), "1.2.840.10008.5.1.4.1.1.7")


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["ssp-sheet", "gradcam"])
def test_sc_passes_dciodvfy(tmp_path: Path, kind: str, dciodvfy) -> None:  # type: ignore[no-untyped-def]
    _, _, rec = _write(tmp_path, kind=kind)
    assert dciodvfy(rec.path) == []


def test_sc_reads_back_with_highdicom(tmp_path: Path) -> None:
    _, _, rec = _write(tmp_path, kind="gradcam")
    img = hd.imread(str(rec.path))
    assert img.SOPInstanceUID == rec.sop_instance_uid
    assert img.get_frame(1).shape == (60, 90, 3)


@pytest.mark.integration
def test_dcmj2pnm_renders_png_of_right_size(tmp_path: Path) -> None:
    tool = require_tool("/usr/bin/dcmj2pnm")
    _, _, rec = _write(tmp_path, rgb=rgb_image(75, 130))
    png = tmp_path / "out.png"
    subprocess.run([tool, "--write-png", str(rec.path), str(png)], check=True, timeout=60,
                   capture_output=True)
    with Image.open(png) as im:
        assert im.size == (130, 75) and im.mode == "RGB"
        assert np.array_equal(np.asarray(im), rgb_image(75, 130))


def test_bad_image_is_a_caller_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        _write(tmp_path, rgb=np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError):
        _write(tmp_path, rgb=np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError):
        _write(tmp_path, kind="sheet")
    assert list(tmp_path.iterdir()) == []


def test_write_failure_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    from spectssp.errors import SpectSSPError
    with pytest.raises(SpectSSPError) as exc:
        write_secondary_capture(make_source_nm(), rgb_image(), kind="ssp-sheet", series_uid=generate_uid(),
                                series_number=1, instance_number=1, description="x",
                                out_dir=blocker / "sub", software_version="0.1.0")
    assert exc.value.code == "output_write_failed"
