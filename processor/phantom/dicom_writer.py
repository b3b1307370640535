"""Write a phantom scanner image as NM Image Storage, the way SPECT consoles export it.

Two layouts, as real vendors write them: ``multiframe`` (one RECON TOMO file; geometry in
DetectorInformationSequence, frames along SliceVector, SpacingBetweenSlices negative when the
slices stack against the row x column normal) and ``slices`` (one single-frame file per slice
with ImagePositionPatient, ImageOrientationPatient and SliceLocation). Patient, study and
UIDs come from the study's metadata, itself drawn from the seed: same seed, same bytes.
"""
from __future__ import annotations

import datetime as dt
import logging
import uuid
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from processor.phantom.tracers import HEADER
from spectssp import __version__
from spectssp.fsutil import atomic_write

log = logging.getLogger(__name__)

NM_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.20"
LAYOUTS = ("multiframe", "slices")
MANUFACTURER = "spectssp digital phantom"
MODEL_NAME = "spectssp-phantom"
SLICE_VECTOR_TAG = 0x00540080


def code(value: str, scheme: str, meaning: str) -> Dataset:
    """One code sequence item."""
    c = Dataset()
    c.CodeValue = value
    c.CodingSchemeDesignator = scheme
    c.CodeMeaning = meaning
    return c


def as_mediso_like(ds: Dataset) -> Dataset:
    """``ds`` (an NM multi-frame reconstruction) given, in place, the header fields of the Mediso
    InterViewXP Tc-99m export issue 12 found: DERIVED\\PRIMARY\\RECON TOMO\\EMISSION; the tracer
    stated only by the radionuclide (C-163A8, SNM3, "^99m^Technetium"), an empty Radiopharmaceutical
    Code Sequence, no Radiopharmaceutical text, one 126-154 keV energy window (no name); the
    descriptions name no tracer. One place for the tests and ``make bench-reject``."""
    ds.ImageType = ["DERIVED", "PRIMARY", "RECON TOMO", "EMISSION"]
    ds.Manufacturer, ds.ManufacturerModelName = "Mediso", "InterViewXP"
    ds.StudyDescription, ds.SeriesDescription = "Jaszczak", "Jaszczak OSEM"
    rng = Dataset()
    rng.EnergyWindowLowerLimit, rng.EnergyWindowUpperLimit = "126", "154"
    window = Dataset()
    window.EnergyWindowRangeSequence = Sequence([rng])
    ds.EnergyWindowInformationSequence = Sequence([window])
    ds.NumberOfEnergyWindows = 1
    item = Dataset()
    item.RadionuclideCodeSequence = Sequence([code("C-163A8", "SNM3", "^99m^Technetium")])
    item.RadiopharmaceuticalCodeSequence = Sequence([])
    ds.RadiopharmaceuticalInformationSequence = Sequence([item])
    return ds


def ds_str(v: float) -> str:
    """A DS value of at most 16 characters, as precise as that allows."""
    v = 0.0 if abs(v) < 1e-9 else float(v)
    for digits in range(12, 0, -1):
        s = f"{v:.{digits}g}"
        if len(s) <= 16:
            return s
    raise ValueError(f"cannot write {v} as DS")


def study_metadata(rng: np.random.Generator, label: str, seed: int, index: int, age: float,
                   tracer: str = "IMP", normal_pattern: str = "phantom") -> dict[str, Any]:
    """Patient, study and UID seeds of one phantom study (plausible, deterministic); another
    tracer than IMP or another normal pattern is another study (its own UIDs), the same draws
    otherwise."""
    uid_seed = (f"spectssp-phantom/{label}/{seed}/{index}" + ("" if tracer == "IMP" else f"/{tracer}")
                + ("" if normal_pattern == "phantom" else f"/{normal_pattern}"))
    study_day = dt.date(2023, 1, 2) + dt.timedelta(days=int(rng.integers(0, 730)))
    minutes = int(rng.integers(8 * 60, 17 * 60))
    years = int(age)
    birth = study_day - dt.timedelta(days=int(round(age * 365.25)) + int(rng.integers(0, 300)))
    return {
        "uid_seed": uid_seed,
        "patient_name": f"PHANTOM^{label}{seed:03d}{index:03d}"[:64],
        "patient_id": f"PH-{label}-{seed}-{index}"[:64],
        "patient_sex": "F" if rng.random() < 0.55 else "M",
        "patient_age": f"{min(years, 999):03d}Y",
        "patient_birth_date": birth.strftime("%Y%m%d"),
        "patient_weight_kg": round(float(rng.uniform(42, 85)), 1),
        "study_date": study_day.strftime("%Y%m%d"),
        "study_time": f"{minutes // 60:02d}{minutes % 60:02d}00",
        "injection_time": f"{(minutes - 20) // 60:02d}{(minutes - 20) % 60:02d}00",
        "accession": f"PH{int(rng.integers(10**7, 10**8))}",
        "dose_mbq": float(rng.choice([111.0, 167.0, 185.0, 222.0])),
    }


def _uid(meta: dict[str, Any], what: str) -> str:
    """A name-based UUID as a 2.25 UID: deterministic from the seed (pydicom's
    ``generate_uid(prefix=None)`` ignores its entropy sources and is random)."""
    return "2.25." + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{meta['uid_seed']}/{what}").int)


def study_uids(meta: dict[str, Any]) -> dict[str, str]:
    """Study and series instance UIDs a study's files carry (for the truth sidecar)."""
    return {"study_instance_uid": _uid(meta, "study"), "series_instance_uid": _uid(meta, "series")}


def _common(meta: dict[str, Any], truth: dict[str, Any], sop_uid: str) -> Dataset:
    """Patient, study, series, equipment, NM isotope and acquisition attributes."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
    ds.SOPClassUID = NM_IMAGE_STORAGE
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = meta["study_date"]
    ds.StudyTime = meta["study_time"]
    ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = meta["study_time"]
    ds.AccessionNumber = meta["accession"]
    ds.Modality = "NM"
    ds.Manufacturer = MANUFACTURER
    ds.InstitutionName = "spectssp phantom site"
    ds.ReferringPhysicianName = ""
    ds.StationName = "PHANTOM01"
    ds.StudyDescription = HEADER[truth.get("tracer", "IMP")]["study"]
    ds.SeriesDescription = HEADER[truth.get("tracer", "IMP")]["series"]
    ds.ManufacturerModelName = MODEL_NAME
    ds.PatientName = meta["patient_name"]
    ds.PatientID = meta["patient_id"]
    ds.PatientBirthDate = meta["patient_birth_date"]
    ds.PatientSex = meta["patient_sex"]
    ds.PatientAge = meta["patient_age"]
    ds.PatientWeight = ds_str(meta["patient_weight_kg"])
    ds.BodyPartExamined = "HEAD"
    ds.DeviceSerialNumber = "SSP0001"
    ds.SoftwareVersions = f"spectssp {__version__}"
    ds.StudyInstanceUID = _uid(meta, "study")
    ds.SeriesInstanceUID = _uid(meta, "series")
    ds.StudyID = "1"
    ds.SeriesNumber = 3
    ds.FrameOfReferenceUID = _uid(meta, "frame-of-reference")
    ds.PositionReferenceIndicator = ""
    ds.PatientOrientation = ""
    # NM/PET Patient Orientation: head first, supine.
    orient = code("102538003", "SCT", "recumbent")
    orient.PatientOrientationModifierCodeSequence = Sequence([code("40199007", "SCT", "supine")])
    ds.PatientOrientationCodeSequence = Sequence([orient])
    ds.PatientGantryRelationshipCodeSequence = Sequence([code("102540008", "SCT", "headfirst")])
    # NM Isotope: the tracer's photopeak window, radiopharmaceutical text and codes.
    tracer = HEADER[truth.get("tracer", "IMP")]
    window = Dataset()
    rng_item = Dataset()
    rng_item.EnergyWindowLowerLimit, rng_item.EnergyWindowUpperLimit, window.EnergyWindowName = tracer["window"]
    window.EnergyWindowRangeSequence = Sequence([rng_item])
    ds.EnergyWindowInformationSequence = Sequence([window])
    radio = Dataset()
    radio.Radiopharmaceutical = tracer["text"]
    radio.RadiopharmaceuticalCodeSequence = Sequence([code(*tracer["code"])])
    radio.RadionuclideCodeSequence = Sequence([code(*tracer["nuclide"])])
    radio.RadiopharmaceuticalRoute = "IV"
    radio.AdministrationRouteCodeSequence = Sequence([code("47625008", "SCT", "Intravenous route")])
    radio.RadiopharmaceuticalStartDateTime = meta["study_date"] + meta["injection_time"]
    radio.RadionuclideTotalDose = ds_str(meta["dose_mbq"])
    radio.RadionuclideHalfLife = tracer["half_life_s"]
    ds.RadiopharmaceuticalInformationSequence = Sequence([radio])
    # NM TOMO acquisition (what the reconstruction came from) and reconstruction.
    rot = Dataset()
    rot.StartAngle = "0"
    rot.AngularStep = "6"
    rot.RotationDirection = "CW"
    rot.ScanArc = "360"
    rot.ActualFrameDuration = 30000
    rot.NumberOfFramesInRotation = 60
    rot.TableTraverse = "0"
    ds.RotationInformationSequence = Sequence([rot])
    ds.TypeOfDetectorMotion = "STEP AND SHOOT"
    ds.CorrectedImage = ["UNIF", "COR", "ATTN", "SCAT"]
    ds.ConvolutionKernel = "OSEM butterworth"
    ds.AcquisitionTerminationCondition = "TIME"
    ds.AcquisitionContextSequence = Sequence([])
    ds.ReconstructionDiameter = ds_str(truth["scanner"]["matrix"] * truth["scanner"]["voxel_mm"])
    return ds


def pixel_module(ds: Dataset, frames: np.ndarray) -> None:
    """Image Pixel module of unsigned 16-bit grey frames, (frames,) rows, columns."""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(frames.shape[-2]), int(frames.shape[-1])
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = np.ascontiguousarray(frames, dtype="<u2").tobytes()


def frame_module(ds: Dataset, n_frames: int, slice_vector: list[int] | None = None) -> None:
    """NM Multi-frame module of a reconstruction: frames along SliceVector (1..n by default)."""
    ds.NumberOfFrames = n_frames
    ds.FrameIncrementPointer = SLICE_VECTOR_TAG
    ds.SliceVector = slice_vector or list(range(1, n_frames + 1))
    ds.NumberOfSlices = n_frames


def spacing_module(ds: Dataset, spacing: Sequence[float], between: float) -> None:
    """PixelSpacing (row, column), SliceThickness and the (signed) SpacingBetweenSlices."""
    ds.PixelSpacing = [ds_str(spacing[1]), ds_str(spacing[0])]
    ds.SliceThickness = ds_str(spacing[2])
    ds.SpacingBetweenSlices = ds_str(between)


def slice_position(origin: np.ndarray, spacing: Sequence[float], direction: np.ndarray, k: int) -> np.ndarray:
    """World (LPS) position of the first voxel of slice ``k``."""
    return origin + k * spacing[2] * direction[:, 2]


def _pixels(ds: Dataset, frames: np.ndarray, slope: float | None) -> None:
    pixel_module(ds, frames)
    total = float(np.asarray(frames, np.float64).sum()) * (slope or 1.0)
    ds.CountsAccumulated = int(min(round(total), 2**31 - 1))    # IS range
    ds.SmallestImagePixelValue = int(frames.min())
    ds.LargestImagePixelValue = int(frames.max())
    if slope is not None:
        ds.RescaleSlope = ds_str(slope)
        ds.RescaleIntercept = "0"


def stored_values(image: sitk.Image) -> tuple[np.ndarray, float | None]:
    """(k, j, i) uint16 stored values and RescaleSlope (None when counts fit as they are)."""
    arr = sitk.GetArrayFromImage(image)
    if arr.min() < 0:
        raise ValueError("NM counts cannot be negative")
    integral = np.issubdtype(arr.dtype, np.integer) or bool(np.all(arr == np.round(arr)))
    if integral and arr.max() <= 65535:
        return arr.astype(np.uint16), None
    # Float (noise-free) or too large: store scaled to the 16-bit range with a slope.
    slope = float(ds_str(max(float(arr.max()), 1e-6) / 65000.0))
    return np.round(arr / slope).clip(0, 65535).astype(np.uint16), slope


def orientation(direction: np.ndarray, slice_mm: float) -> tuple[list[str], np.ndarray, float]:
    """(ImageOrientationPatient, row x column normal, signed slice spacing) of an ITK direction
    whose columns are the column, row and slice axes: a slice axis against the normal gives a
    negative SpacingBetweenSlices."""
    d = np.asarray(direction, float)
    normal = np.cross(d[:, 0], d[:, 1])
    dot = float(normal @ d[:, 2])
    if abs(abs(dot) - 1) > 1e-6:
        raise ValueError("slice axis must be parallel to the row x column normal")
    return [ds_str(v) for v in (*d[:, 0], *d[:, 1])], normal, np.sign(dot) * slice_mm


def save(ds: Dataset, path: Path, transfer_syntax: str = ExplicitVRLittleEndian) -> Path:
    """Write ``ds`` as a Part 10 file, atomically (a reader never sees half a file)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = transfer_syntax
    ds.file_meta = meta
    atomic_write(path, lambda fh: ds.save_as(fh, enforce_file_format=True))
    return path


def write_dicom(image: sitk.Image, truth: dict[str, Any], out_dir: Path, layout: str = "multiframe",
                ) -> list[Path]:
    """Write ``image`` (scanner LPS) into ``out_dir`` as NM Image Storage; returns the paths."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    meta = truth["dicom"]
    values, slope = stored_values(image)
    spacing = image.GetSpacing()
    d = np.array(image.GetDirection()).reshape(3, 3)
    iop, normal, sbs = orientation(d, spacing[2])
    origin = np.array(image.GetOrigin())
    nz = values.shape[0]
    out_dir = Path(out_dir)
    paths: list[Path] = []
    if layout == "multiframe":
        ds = _common(meta, truth, _uid(meta, "image"))
        ds.InstanceNumber = 1
        frame_module(ds, nz)
        ds.NumberOfEnergyWindows = 1
        ds.NumberOfDetectors = 1
        ds.NumberOfRotations = 1
        spacing_module(ds, spacing, sbs)
        det = Dataset()
        det.CollimatorGridName = "LEHR"
        det.CollimatorType = "PARA"
        det.ImagePositionPatient = [ds_str(v) for v in origin]
        det.ImageOrientationPatient = iop
        det.ZoomFactor = ["1", "1"]
        ds.DetectorInformationSequence = Sequence([det])
        _pixels(ds, values, slope)
        paths.append(save(ds, out_dir / "NM_RECON_TOMO.dcm"))
    else:
        for k in range(nz):
            ds = _common(meta, truth, _uid(meta, f"image-{k}"))
            ds.InstanceNumber = k + 1
            frame_module(ds, 1)
            ds.NumberOfEnergyWindows = 1
            ds.NumberOfDetectors = 1
            ds.NumberOfRotations = 1
            pos = slice_position(origin, spacing, d, k)
            ds.ImagePositionPatient = [ds_str(v) for v in pos]
            ds.ImageOrientationPatient = iop
            ds.SliceLocation = ds_str(float(pos @ normal))
            spacing_module(ds, spacing, spacing[2])
            det = Dataset()
            det.CollimatorGridName = "LEHR"
            det.CollimatorType = "PARA"
            det.ImagePositionPatient = ds.ImagePositionPatient
            det.ImageOrientationPatient = iop
            ds.DetectorInformationSequence = Sequence([det])
            _pixels(ds, values[k:k + 1], slope)
            paths.append(save(ds, out_dir / f"NM_SLICE_{k + 1:04d}.dcm"))
    log.debug("wrote %d file(s) (%s) to %s", len(paths), layout, out_dir)
    return paths

