"""World B's DICOM writer: every encoding round-trips through our intake with its geometry and tracer."""
from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from processor.intake import load_series
from processor.intake.tracer import normalise_tracer
from processor.worldb import make_study, write_study
from processor.worldb.dicom import ENCODINGS, LAYOUTS, SYNTAXES, VENDORS, draw_identity, write_nm


def _image(position: str, order: str) -> sitk.Image:
    rng = np.random.default_rng(0)
    arr = rng.uniform(-0.5, 80.0, (20, 24, 24)).astype(np.float32)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((3.1, 3.1, 3.1))
    row = (1.0, 0.0, 0.0) if position == "HFS" else (-1.0, 0.0, 0.0)
    normal = np.cross(row, (0.0, 1.0, 0.0))
    third = normal if order == "ascending" else -normal
    img.SetDirection([v for r in zip(row, (0.0, 1.0, 0.0), third) for v in r])
    img.SetOrigin((-37.2, -40.0, 112.5))
    return img


CASES = list(itertools.product(LAYOUTS, ENCODINGS, SYNTAXES, [("HFS", "ascending"), ("FFS", "descending")]))


@pytest.mark.parametrize("layout, encoding, syntax, pose", CASES)
def test_round_trip_through_intake(tmp_path, layout, encoding, syntax, pose):
    img = _image(*pose)
    idn = draw_identity(np.random.default_rng(1), "NC/1/0", 71.4, layout)
    idn.update(encoding=encoding, syntax=syntax)
    cam = {"position": pose[0], "matrix": 24, "pixel_mm": 3.1}
    paths = write_nm(img, idn, cam, tmp_path / "s")
    assert len(paths) == (1 if layout == "multiframe" else 20)
    (r,) = load_series([tmp_path / "s"])
    assert r.ok, r.error
    assert r.tracer == "IMP" and r.layout == layout and r.matrix == (24, 24, 20)
    out = r.image
    assert np.allclose(out.GetSpacing(), img.GetSpacing(), atol=1e-4)
    # same voxels in the world: compare on the input grid
    back = sitk.GetArrayFromImage(sitk.Resample(out, img, sitk.Transform(), sitk.sitkNearestNeighbor))
    want = sitk.GetArrayFromImage(img)
    if encoding != "int16_slope":
        want = np.clip(want, 0, None)
    tol = 80.0 / 32000 if encoding != "uint16_counts" else 0.5
    assert np.abs(back - want).max() <= tol + 1e-4
    ds = pydicom.dcmread(paths[0], stop_before_pixels=True)
    assert ds.PatientPosition == pose[0] and ds.Modality == "NM" and ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.20"
    assert ds.file_meta.TransferSyntaxUID == SYNTAXES[syntax]
    assert ds.PixelRepresentation == (1 if encoding == "int16_slope" else 0)
    for kw in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate",
               "AccessionNumber", "ReferringPhysicianName", "StudyID", "SeriesInstanceUID", "FrameOfReferenceUID",
               "Manufacturer", "ManufacturerModelName"):
        assert kw in ds, kw


def test_every_vendor_spells_a_tracer_intake_reads_as_imp():
    assert {normalise_tracer(v["tracer"]) for v in VENDORS} == {"IMP"}
    assert len({v["manufacturer"] for v in VENDORS}) == len(VENDORS)


def _digest(folder) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_and_geometry_matches_the_camera(tmp_path):
    a, b = make_study("AD", 3, 1), make_study("AD", 3, 1)
    write_study(a, tmp_path / "a" / a.name)
    write_study(b, tmp_path / "b" / b.name)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    other = make_study("AD", 3, 2)
    assert other.truth["subject"] != a.truth["subject"]
    truth = a.truth
    assert truth["world"] == "B" and truth["label"] == "AD" and truth["seed"] == 3
    sidecar = (tmp_path / "a" / f"{a.name}.truth.json").read_text()
    assert '"variant"' in sidecar and '"world": "B"' in sidecar
    (r,) = load_series([tmp_path / "a" / a.name])
    assert r.ok and r.tracer == "IMP"
    cam = truth["scanner"]
    assert r.matrix[:2] == (cam["matrix"], cam["matrix"])
    assert r.spacing_mm[0] == pytest.approx(cam["pixel_mm"], abs=1e-3)
    d = np.array(r.image.GetDirection()).reshape(3, 3)
    assert np.allclose(np.abs(d), np.eye(3)) and np.sign(d[0, 0]) == (1 if cam["position"] == "HFS" else -1)
