"""Synthetic NM (and PET, CT, SC) DICOM for intake tests, written from a known world geometry.

Geometry is given the ITK way: ``origin`` is the centre of voxel (0, 0, 0), ``spacing`` is
(x, y, z) in mm and ``direction`` is a 3x3 matrix whose columns are the world (LPS) directions
of the column, row and slice index. A slice direction against the row x column normal is
written as a negative SpacingBetweenSlices, as some vendors do.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

NM_STORAGE = "1.2.840.10008.5.1.4.1.1.20"
PET_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
SC_STORAGE = "1.2.840.10008.5.1.4.1.1.7"

_UID_ROOT = "1.2.826.0.1.3680043.8.498."


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


def rotation(ax: float, ay: float, az: float) -> np.ndarray:
    """A rotation matrix from angles in degrees about x, y, z (an oblique acquisition)."""
    ax, ay, az = np.radians([ax, ay, az])
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


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


def _ds(v: float) -> str:
    """A DS value of at most 16 characters, as precise as that allows."""
    for digits in range(15, 0, -1):
        s = f"{v:.{digits}g}"
        if len(s) <= 16:
            return s
    raise ValueError(v)


def base_dataset(sop_class: str, modality: str, *, seed: str = "s", series_uid: str | None = None,
                 study_uid: str | None = None, sop_uid: str | None = None) -> Dataset:
    """Patient, study, series and equipment modules with plausible values."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid or uid(seed + "sop")
    ds.StudyDate = "20240131"
    ds.SeriesDate = "20240131"
    ds.StudyTime = "101500"
    ds.AccessionNumber = "ACC0001"
    ds.Modality = modality
    ds.Manufacturer = "Test Vendor"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "Brain perfusion"
    ds.SeriesDescription = "IMP SPECT recon"
    ds.PatientName = "Test^Patient"
    ds.PatientID = "PID001"
    ds.PatientBirthDate = "19500101"
    ds.PatientSex = "F"
    ds.StudyInstanceUID = study_uid or uid(seed + "study")
    ds.SeriesInstanceUID = series_uid or uid(seed + "series")
    ds.StudyID = "1"
    ds.SeriesNumber = 3
    ds.InstanceNumber = 1
    ds.FrameOfReferenceUID = uid(seed + "for")
    return ds


def add_tracer(ds: Dataset, name: str | None = "123I-IMP", nuclide: str = "^123^Iodine") -> None:
    """RadiopharmaceuticalInformationSequence as scanners write it for IMP."""
    if name is None:
        return
    item = Dataset()
    item.Radiopharmaceutical = name
    code = Dataset()
    code.CodeValue = "C-111A1"
    code.CodingSchemeDesignator = "SRT"
    code.CodeMeaning = nuclide
    item.RadionuclideCodeSequence = Sequence([code])
    item.RadionuclideTotalDose = "222"
    ds.RadiopharmaceuticalInformationSequence = Sequence([item])


def _pixels(ds: Dataset, frames: np.ndarray) -> None:
    arr = np.ascontiguousarray(frames)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(arr.shape[-2]), int(arr.shape[-1])
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = arr.astype("<u2").tobytes()


def _geometry_values(geo: Geometry) -> tuple[list[float], float, np.ndarray]:
    d = np.asarray(geo.direction, float)
    row, col, sl = d[:, 0], d[:, 1], d[:, 2]
    normal = np.cross(row, col)
    sign = float(np.sign(np.dot(normal, sl)))
    if abs(abs(np.dot(normal, sl)) - 1) > 1e-6:
        raise ValueError("slice direction must be parallel to the row x column normal")
    return [*row, *col], sign * geo.spacing[2], normal


def nm_multiframe(vol: np.ndarray, geo: Geometry, *, seed: str = "mf", tracer: str | None = "123I-IMP",
                  slope: float | None = None, intercept: float | None = None,
                  slice_vector: list[int] | None = None, **uids: str) -> Dataset:
    """One NM Image Storage RECON TOMO multi-frame object, geometry in DetectorInformationSequence."""
    iop, sbs, _ = _geometry_values(geo)
    ds = base_dataset(NM_STORAGE, "NM", seed=seed, **uids)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
    nz = vol.shape[0]
    ds.NumberOfFrames = nz
    ds.FrameIncrementPointer = [0x00540080]
    ds.SliceVector = slice_vector or list(range(1, nz + 1))
    ds.NumberOfSlices = nz
    ds.PixelSpacing = [_ds(geo.spacing[1]), _ds(geo.spacing[0])]
    ds.SliceThickness = _ds(abs(sbs))
    ds.SpacingBetweenSlices = _ds(sbs)
    det = Dataset()
    det.ImagePositionPatient = [_ds(v) for v in geo.origin]
    det.ImageOrientationPatient = [_ds(v) for v in iop]
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
        ds.RescaleSlope = _ds(slope)
        ds.RescaleIntercept = _ds(intercept or 0.0)
    _pixels(ds, frames)
    return ds


def nm_slices(vol: np.ndarray, geo: Geometry, *, seed: str = "sl", tracer: str | None = "123I-IMP",
              modality: str = "NM", sop_class: str = NM_STORAGE, shuffle: bool = True,
              in_detector: bool = False, **uids: str) -> list[Dataset]:
    """One single-frame object per slice, ImagePositionPatient per file (NM or PET-like).

    ``in_detector`` puts position and orientation in DetectorInformationSequence, where the
    NM module keeps them; otherwise they are top-level, as PET and many NM exports write them.
    """
    iop, sbs, _ = _geometry_values(geo)
    d = np.asarray(geo.direction, float)
    series_uid = uids.pop("series_uid", None) or uid(seed + "series")
    study_uid = uids.pop("study_uid", None) or uid(seed + "study")
    out = []
    nz = vol.shape[0]
    order = np.random.default_rng(1).permutation(nz) if shuffle else np.arange(nz)
    for n, k in enumerate(order):
        ds = base_dataset(sop_class, modality, seed=f"{seed}-{k}", series_uid=series_uid,
                          study_uid=study_uid)
        ds.FrameOfReferenceUID = uid(seed + "for")
        ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"] if modality == "NM" \
            else ["ORIGINAL", "PRIMARY"]
        ds.InstanceNumber = n + 1  # deliberately not the slice order
        pos = np.asarray(geo.origin) + k * geo.spacing[2] * d[:, 2]
        where = ds
        if in_detector:
            where = Dataset()
            ds.DetectorInformationSequence = Sequence([where])
        where.ImagePositionPatient = [_ds(v) for v in pos]
        where.ImageOrientationPatient = [_ds(v) for v in iop]
        ds.PixelSpacing = [_ds(geo.spacing[1]), _ds(geo.spacing[0])]
        ds.SliceThickness = _ds(abs(sbs))
        ds.SpacingBetweenSlices = _ds(abs(sbs))
        add_tracer(ds, tracer)
        _pixels(ds, vol[k])
        out.append(ds)
    return out


def save(ds: Dataset, path: Path, *, transfer_syntax: str = ExplicitVRLittleEndian,
         preamble: bool = True) -> Path:
    """Write a Part 10 file (or, with ``preamble=False``, a bare dataset without file meta)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not preamble:
        ds = ds.copy()
        if hasattr(ds, "file_meta"):
            del ds.file_meta
        ds.preamble = None
        pydicom.dcmwrite(path, ds, enforce_file_format=False, implicit_vr=True, little_endian=True)
        return path
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = transfer_syntax
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)
    return path


def save_all(datasets: list[Dataset], folder: Path, stem: str = "IM") -> list[Path]:
    return [save(ds, folder / f"{stem}{i:04d}.dcm") for i, ds in enumerate(datasets)]
