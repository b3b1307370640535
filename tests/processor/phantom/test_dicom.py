"""DICOM written like a scanner: SimpleITK reads back the truth geometry; dciodvfy has no errors."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from processor.phantom import ScannerOptions, make_study, write_study


def read_series(folder: Path) -> sitk.Image:
    files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder))
    if len(files) == 1:
        return sitk.ReadImage(files[0])
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files)
    return reader.Execute()


def assert_same_geometry(read: sitk.Image, truth: sitk.Image) -> None:
    assert read.GetSize() == truth.GetSize()
    np.testing.assert_allclose(read.GetOrigin(), truth.GetOrigin(), atol=1e-3)
    np.testing.assert_allclose(read.GetSpacing(), truth.GetSpacing(), atol=1e-4)
    np.testing.assert_allclose(read.GetDirection(), truth.GetDirection(), atol=1e-6)


@pytest.mark.parametrize("layout", ["multiframe", "slices"])
@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_simpleitk_reads_truth_geometry(tmp_path, layout, order):
    study = make_study("DLB", 31, 0, scanner=ScannerOptions(matrix=64, slice_order=order))
    paths = write_study(study, tmp_path / study.name, layout)
    assert len(paths) == (1 if layout == "multiframe" else 64)
    read = read_series(tmp_path / study.name)
    if layout == "multiframe" or order == "ascending":
        assert_same_geometry(read, study.image)
    else:  # the series reader sorts slices along the normal: same voxels, other index order
        d = np.array(study.image.GetDirection()).reshape(3, 3)
        np.testing.assert_allclose(np.array(read.GetDirection()).reshape(3, 3), d @ np.diag([1, 1, -1]), atol=1e-6)
        last = study.image.TransformIndexToPhysicalPoint((0, 0, study.image.GetSize()[2] - 1))
        np.testing.assert_allclose(read.GetOrigin(), last, atol=1e-3)
    # every voxel at the same world position: nearest-neighbour resampling onto the truth grid
    same = sitk.Resample(read, study.image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, read.GetPixelID())
    assert np.array_equal(sitk.GetArrayFromImage(same), sitk.GetArrayFromImage(study.image))
    ds = pydicom.dcmread(paths[0], stop_before_pixels=True)
    if layout == "multiframe":
        sbs = float(ds.SpacingBetweenSlices)
        assert (sbs < 0) == (order == "descending")
        assert ds.FrameIncrementPointer == 0x00540080 and len(ds.SliceVector) == 64
        assert "ImagePositionPatient" in ds.DetectorInformationSequence[0]
    # truth sidecar beside the folder; only DICOM inside
    sidecar = json.loads((tmp_path / f"{study.name}.truth.json").read_text())
    assert sidecar["label"] == "DLB" and sidecar["layout"] == layout
    assert sidecar["series_instance_uid"] == ds.SeriesInstanceUID
    assert sorted(p.name for p in (tmp_path / study.name).iterdir()) == sorted(p.name for p in paths)


def test_header_is_an_imp_brain_spect(tmp_path):
    study = make_study("AD", 32, 0, scanner=ScannerOptions(matrix=64))
    ds = pydicom.dcmread(write_study(study, tmp_path / "s", "multiframe")[0], stop_before_pixels=True)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.20" and ds.Modality == "NM"
    assert list(ds.ImageType) == ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
    radio = ds.RadiopharmaceuticalInformationSequence[0]
    assert radio.Radiopharmaceutical == "Iofetamine"
    assert radio.RadionuclideCodeSequence[0].CodeValue == "21572004"
    assert radio.RadiopharmaceuticalCodeSequence[0].CodeValue == "78481003"
    assert str(ds.PatientName).startswith("PHANTOM^AD")
    assert ds.PatientAge == f"{int(study.truth['subject']['age']):03d}Y"


def test_noise_free_float_counts_use_rescale_slope(tmp_path):
    study = make_study("NC", 33, 0, scanner=ScannerOptions(matrix=64, noise_free=True, slice_order="descending"))
    path = write_study(study, tmp_path / "s", "multiframe")[0]
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert float(ds.RescaleSlope) > 0
    read = sitk.GetArrayFromImage(sitk.ReadImage(str(path))).astype(np.float64)
    truth = sitk.GetArrayFromImage(study.image)
    assert np.abs(read - truth).max() <= float(ds.RescaleSlope)


def test_same_seed_same_bytes(tmp_path):
    a = write_study(make_study("DLB", 34, 2, scanner=ScannerOptions(matrix=64)), tmp_path / "a", "multiframe")
    b = write_study(make_study("DLB", 34, 2, scanner=ScannerOptions(matrix=64)), tmp_path / "b", "multiframe")
    c = write_study(make_study("DLB", 34, 3, scanner=ScannerOptions(matrix=64)), tmp_path / "c", "multiframe")
    assert a[0].read_bytes() == b[0].read_bytes()
    assert (tmp_path / "a.truth.json").read_text() == (tmp_path / "b.truth.json").read_text()
    assert a[0].read_bytes() != c[0].read_bytes()
    uid = lambda p: pydicom.dcmread(p, stop_before_pixels=True).StudyInstanceUID  # noqa: E731
    assert uid(a[0]) == uid(b[0]) != uid(c[0])


@pytest.mark.integration
@pytest.mark.parametrize("layout", ["multiframe", "slices"])
def test_dciodvfy_reports_no_errors(tmp_path, layout):
    tool = shutil.which("dciodvfy")
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("dciodvfy is missing in CI (Debian package dicom3tools)")
        pytest.skip("dciodvfy not installed (apt-get install dicom3tools)")
    study = make_study("AD", 35, 0, scanner=ScannerOptions(matrix=64, slice_order="descending", noise_free=True))
    paths = write_study(study, tmp_path / "s", layout)
    for path in paths[:2]:
        out = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
        text = out.stdout + out.stderr
        assert "NMImage" in text     # it recognised the IOD
        errors = [line for line in text.splitlines() if line.startswith("Error")]
        assert not errors, text


def test_a_phantom_under_the_mediso_like_header_is_rejected_as_tc99m_from_its_header(tmp_path):
    """The header edit ``make bench-reject`` and the tests share: the phantom's own tracer fields
    (123I-IMP, its named energy window) are gone, the issue-12 evidence is all that is left."""
    from processor.intake import load_series
    from processor.phantom.dicom_writer import as_mediso_like, write_dicom
    study = make_study("NC", 1212, 0, scanner=ScannerOptions(matrix=64))
    (path,) = write_dicom(study.image, study.truth, tmp_path, "multiframe")
    as_mediso_like(pydicom.dcmread(path)).save_as(path, enforce_file_format=True)
    (r,) = load_series([tmp_path], expected_tracer="IMP")
    assert r.error.code == "tracer_not_covered" and "Tc-99m" in r.error.message
    assert r.tracer_id.evidence == ("radionuclide code C-163A8 (SNM3) '^99m^Technetium'", "energy window 126-154 keV")
