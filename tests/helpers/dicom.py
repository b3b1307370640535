"""The tests' one synthetic DICOM generator, built on the phantom writer's modules.

Geometry is given the ITK way: ``origin`` is the centre of voxel (0, 0, 0), ``spacing`` is
(x, y, z) in mm and ``direction`` is a 3x3 matrix whose columns are the world (LPS) directions
of the column, row and slice index. A slice direction against the row x column normal is
written as a negative SpacingBetweenSlices, as some vendors do.

- ``nm_multiframe`` / ``nm_slices``: NM (or PET, CT) volumes from a known world geometry, for
  the intake tests (content and UIDs deterministic from ``seed``);
- ``make_series``: a tiny single-frame series in a folder, for the daemon tests;
- ``make_source_nm``: a tiny NM image with real-world defects, for DICOM output and network tests;
- ``save`` / ``save_all``: Part 10 files, or bare datasets without preamble and file meta.
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from atlas.analysis import Indices, RegionStats, Statistics
from models.inference import Classification
from processor.phantom import dicom_writer as phantom
from processor.phantom.dicom_writer import ds_str, frame_module, orientation, pixel_module, spacing_module
from processor.phantom.scanner import rotation_matrix as rotation
from processor.result import Registration, Result, Status

NM_STORAGE = phantom.NM_IMAGE_STORAGE
PET_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
SC_STORAGE = "1.2.840.10008.5.1.4.1.1.7"
RECON_TOMO = ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]

_UID_ROOT = "1.2.826.0.1.3680043.8.498."

__all__ = ["CT_STORAGE", "NM_STORAGE", "PET_STORAGE", "RESULT", "SC_STORAGE", "Geometry", "add_tracer",
           "base_dataset", "ds_str", "flip_slices", "make_series", "make_source_nm", "mediso_like", "nm_multiframe",
           "nm_slices", "result", "rgb_image", "rotation", "save", "save_all", "test_volume", "uid"]


def uid(seed: str) -> str:
    """A deterministic UID, so that reruns write the same files."""
    return generate_uid(prefix=_UID_ROOT, entropy_srcs=[seed])


@dataclass
class Geometry:
    origin: tuple[float, float, float] = (-90.0, -120.0, -60.0)
    spacing: tuple[float, float, float] = (3.0, 3.5, 4.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))

    def affine(self) -> np.ndarray:
        """4x4 index (i, j, k) -> world (LPS) matrix."""
        a = np.eye(4)
        a[:3, :3] = np.asarray(self.direction, float) @ np.diag(self.spacing)
        a[:3, 3] = self.origin
        return a


def flip_slices(direction: np.ndarray) -> np.ndarray:
    """The same in-plane axes with the slice axis reversed (negative SpacingBetweenSlices)."""
    d = np.array(direction, float)
    d[:, 2] *= -1
    return d


def test_volume(shape: tuple[int, int, int] = (20, 24, 22), seed: int = 0) -> np.ndarray:
    """A (z, y, x) uint16 volume where every voxel value is distinct enough to find it again."""
    rng = np.random.default_rng(seed)
    vol = rng.integers(0, 4000, size=shape).astype(np.uint16)
    vol[0, 0, 0] = 4095  # asymmetric markers: a flip or a transpose cannot go unnoticed
    vol[-1, 0, 0] = 7
    return vol



# Patient, study, series and equipment values of every generated dataset, plausible ones.
BASE_ATTRIBUTES: dict[str, Any] = {
    "SpecificCharacterSet": "ISO_IR 100", "StudyDate": "20240131", "SeriesDate": "20240131",
    "StudyTime": "101500", "AccessionNumber": "ACC0001", "Manufacturer": "Test Vendor",
    "ReferringPhysicianName": "", "StudyDescription": "Brain perfusion", "SeriesDescription": "IMP SPECT recon",
    "PatientName": "Test^Patient", "PatientID": "PID001", "PatientBirthDate": "19500101", "PatientSex": "F",
    "StudyID": "1", "SeriesNumber": 3, "InstanceNumber": 1,
}


def base_dataset(sop_class: str, modality: str, *, seed: str = "s", series_uid: str | None = None,
                 study_uid: str | None = None, sop_uid: str | None = None, **attrs: Any) -> Dataset:
    """Patient, study, series and equipment modules: ``BASE_ATTRIBUTES``, UIDs from ``seed``
    unless given, then ``attrs`` (DICOM keywords) on top."""
    ds = Dataset()
    values = {**BASE_ATTRIBUTES, "SOPClassUID": sop_class, "SOPInstanceUID": sop_uid or uid(seed + "sop"),
              "Modality": modality, "StudyInstanceUID": study_uid or uid(seed + "study"),
              "SeriesInstanceUID": series_uid or uid(seed + "series"), "FrameOfReferenceUID": uid(seed + "for"),
              **attrs}
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


def add_tracer(ds: Dataset, name: str | None = "123I-IMP", nuclide: str = "^123^Iodine") -> None:
    """RadiopharmaceuticalInformationSequence as scanners write it for IMP."""
    if name is None:
        return
    item = Dataset()
    item.Radiopharmaceutical = name
    # ^123^Iodine is C-114A4 in SRT (C-111A1 is ^18^Fluorine: pydicom/sr/_snomed_dict.py)
    item.RadionuclideCodeSequence = Sequence([phantom.code("C-114A4", "SRT", nuclide)])
    item.RadionuclideTotalDose = "222"
    ds.RadiopharmaceuticalInformationSequence = Sequence([item])


def _position_orientation(where: Dataset, position: np.ndarray, iop: list[str]) -> None:
    where.ImagePositionPatient = [ds_str(v) for v in position]
    where.ImageOrientationPatient = iop


def nm_multiframe(vol: np.ndarray, geo: Geometry, *, seed: str = "mf", tracer: str | None = "123I-IMP",
                  slope: float | None = None, intercept: float | None = None,
                  slice_vector: list[int] | None = None, **uids: str) -> Dataset:
    """One NM Image Storage RECON TOMO multi-frame object, geometry in DetectorInformationSequence."""
    iop, _, sbs = orientation(geo.direction, geo.spacing[2])
    ds = base_dataset(NM_STORAGE, "NM", seed=seed, **uids)
    ds.ImageType = RECON_TOMO
    frame_module(ds, vol.shape[0], slice_vector)
    spacing_module(ds, geo.spacing, sbs)
    det = Dataset()
    _position_orientation(det, np.asarray(geo.origin), iop)
    ds.DetectorInformationSequence = Sequence([det])
    ds.NumberOfDetectors = 1
    ew = Dataset()
    ew.EnergyWindowName = "Photopeak"
    ds.EnergyWindowInformationSequence = Sequence([ew])
    ds.NumberOfEnergyWindows = 1
    ds.PatientOrientation = ""
    add_tracer(ds, tracer)
    frames = vol
    if slice_vector is not None:
        frames = np.stack([vol[s - 1] for s in slice_vector])
    if slope is not None:
        ds.RescaleSlope = ds_str(slope)
        ds.RescaleIntercept = ds_str(intercept or 0.0)
    pixel_module(ds, frames)
    return ds


def nm_slices(vol: np.ndarray, geo: Geometry, *, seed: str = "sl", tracer: str | None = "123I-IMP",
              modality: str = "NM", sop_class: str = NM_STORAGE, shuffle: bool = True,
              in_detector: bool = False, **uids: str) -> list[Dataset]:
    """One single-frame object per slice, ImagePositionPatient per file (NM or PET-like).

    ``in_detector`` puts position and orientation in DetectorInformationSequence, where the
    NM module keeps them; otherwise they are top-level, as PET and many NM exports write them.
    """
    d = np.asarray(geo.direction, float)
    iop, _, _ = orientation(d, geo.spacing[2])
    series_uid = uids.pop("series_uid", None) or uid(seed + "series")
    study_uid = uids.pop("study_uid", None) or uid(seed + "study")
    out = []
    order = np.random.default_rng(1).permutation(vol.shape[0]) if shuffle else np.arange(vol.shape[0])
    for n, k in enumerate(order):
        ds = base_dataset(sop_class, modality, seed=f"{seed}-{k}", series_uid=series_uid,
                          study_uid=study_uid)
        ds.FrameOfReferenceUID = uid(seed + "for")
        ds.ImageType = RECON_TOMO if modality == "NM" else ["ORIGINAL", "PRIMARY"]
        ds.InstanceNumber = n + 1  # deliberately not the slice order
        where = ds
        if in_detector:
            where = Dataset()
            ds.DetectorInformationSequence = Sequence([where])
        _position_orientation(where, phantom.slice_position(np.asarray(geo.origin), geo.spacing, d, k), iop)
        spacing_module(ds, geo.spacing, geo.spacing[2])
        add_tracer(ds, tracer)
        pixel_module(ds, vol[k])
        out.append(ds)
    return out


def mediso_like(seed: str = "mediso") -> Dataset:
    """The header of a Mediso InterViewXP reconstruction as issue 12 found it (pixels synthetic):
    128 x 128 x 45 at 4.13 mm, negative SpacingBetweenSlices, and the tracer fields of
    :func:`processor.phantom.dicom_writer.as_mediso_like` (shared with ``make bench-reject``)."""
    geo = Geometry(origin=(-264.0, -264.0, 90.0), spacing=(4.13, 4.13, 4.13), direction=flip_slices(np.eye(3)))
    return phantom.as_mediso_like(nm_multiframe(test_volume((45, 128, 128)), geo, seed=seed, tracer=None))


def make_series(folder: Path, n: int = 3, *, series_uid: str | None = None, study_uid: str | None = None,
                sop_uids: list[str] | None = None, seed: int = 0, modality: str = "NM") -> list[Path]:
    """``n`` tiny (4 x 4) single-frame instances of one series in ``folder``, named IM0000.dcm...;
    UIDs not given are new each call, pixel values follow ``seed`` and the instance number."""
    series_uid = series_uid or generate_uid()
    study_uid = study_uid or generate_uid()
    sop_class = CT_STORAGE if modality == "CT" else NM_STORAGE
    paths = []
    for i in range(n):
        ds = base_dataset(sop_class, modality, series_uid=series_uid, study_uid=study_uid,
                          sop_uid=sop_uids[i] if sop_uids else generate_uid(), PatientName="Secret^Patient",
                          PatientID="P1", AccessionNumber="ACC1", InstanceNumber=i + 1)
        pixel_module(ds, (np.arange(16, dtype=np.uint16) + seed + i).reshape(4, 4))
        paths.append(save(ds, folder / f"IM{i:04d}.dcm"))
    return paths

def make_source_nm(*, birth_date: str = "00000000", name: str = "Müller^Jürgen",
                   patient_id: str = "ID-" + "9" * 70, study_uid: str | None = None) -> Dataset:
    """A tiny NM image with real-world defects: invalid birth date, non-ASCII name (Latin-1),
    an over-long PatientID and AccessionNumber, a control character in the description."""
    with warnings.catch_warnings():  # pydicom warns about the deliberately bad values
        warnings.simplefilter("ignore")
        ds = base_dataset(NM_STORAGE, "NM", sop_uid=generate_uid(), series_uid=generate_uid(),
                          study_uid=study_uid or generate_uid(), PatientName=name, PatientID=patient_id,
                          PatientBirthDate=birth_date, StudyDate="20250314", StudyTime="093000",
                          AccessionNumber="ACC-0123456789-XYZ", StudyID="S1", ReferringPhysicianName="Ref^Doc",
                          StudyDescription="Brain perfusion\x07 IMP", Manufacturer="ACME Nuclear",
                          ManufacturerModelName="Gamma 3000")
    ds.NumberOfFrames = 2
    pixel_module(ds, np.arange(128, dtype=np.uint16).reshape(2, 8, 8))
    return ds


def save(ds: Dataset, path: Path, *, transfer_syntax: str = ExplicitVRLittleEndian,
         preamble: bool = True) -> Path:
    """Write a Part 10 file (or, with ``preamble=False``, a bare dataset without file meta)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if preamble:
        return phantom.save(ds, path, transfer_syntax)
    ds = ds.copy()
    if hasattr(ds, "file_meta"):
        del ds.file_meta
    ds.preamble = None
    pydicom.dcmwrite(path, ds, enforce_file_format=False, implicit_vr=True, little_endian=True)
    return path


def save_all(datasets: list[Dataset], folder: Path, stem: str = "IM") -> list[Path]:
    return [save(ds, folder / f"{stem}{i:04d}.dcm") for i, ds in enumerate(datasets)]


def _sr_result() -> dict[str, Any]:
    """A processed study's result.json (the SR writer's input), built as the pipeline builds it."""
    regions = {"Occipital_L": RegionStats(2.41, 37.5), "Posterior cingulate gyrus": RegionStats(0.35, 1.25),
               "Precuneus_R": RegionStats(1.75, 18.0)}
    stats = Statistics(("GLB", "THL", "PNS", "CBL"), regions, Indices(1.93, 14.2, 2.6, 0.31), "GLB", None)
    return Result([Path("/in/IM0001.dcm")], generate_uid(), generate_uid(), Status.OK,
                  classification=Classification("DLB", {"AD": 0.21, "DLB": 0.67, "NC": 0.12}, "alexnet-imp@1.2"),
                  registration=Registration("rigid+affine+syn", 0.962, True, 0.85, "spect"), statistics=stats).as_dict()


RESULT: dict[str, Any] = _sr_result()


def result(**changes: Any) -> dict[str, Any]:
    """A deep copy of RESULT with top-level keys replaced."""
    out = copy.deepcopy(RESULT)
    out.update(changes)
    return out


def rgb_image(rows: int = 60, cols: int = 90) -> np.ndarray:
    """A deterministic RGB test card: red ramp, green stripes, blue block."""
    img = np.zeros((rows, cols, 3), np.uint8)
    img[..., 0] = np.linspace(0, 255, cols, dtype=np.uint8)[None, :]
    img[::4, :, 1] = 200
    img[rows // 3: 2 * rows // 3, cols // 3: 2 * cols // 3, 2] = 255
    return img
