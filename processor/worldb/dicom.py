"""World B's DICOM writer: NM Image Storage as several (fictitious) vendors encode it.

Written independently of world A's writer. What varies per study, drawn from the seed:
the vendor profile (manufacturer, model, descriptions, how the tracer is spelled), the layout
(one multi-frame RECON TOMO object or one file per slice), the pixel encoding (signed 16-bit
with RescaleSlope, unsigned 16-bit with RescaleSlope, or unsigned rounded counts), the transfer
syntax (explicit or implicit VR little endian) and the patient position (head or feet first).
The tracer is always 123I-IMP, so the bundled IMP normal database covers every study.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from spectssp.fsutil import atomic_write

NM_STORAGE = "1.2.840.10008.5.1.4.1.1.20"
LAYOUTS = ("multiframe", "slices")
ENCODINGS = ("int16_slope", "uint16_slope", "uint16_counts")
SYNTAXES = {"explicit": ExplicitVRLittleEndian, "implicit": ImplicitVRLittleEndian}
VENDORS = (
    {"manufacturer": "ORION NUCLEAR", "model": "Orion DH-2", "software": "OrionRecon 4.1",
     "tracer": "123I-IMP", "series": "BRAIN PERF IMP OSEM", "kernel": "OSEM 8i10s"},
    {"manufacturer": "Helix Medical Systems", "model": "HX Gamma 3", "software": "HX 7.0.2",
     "tracer": "N-isopropyl-p-[123I]iodoamphetamine", "series": "Brain SPECT IMP (AC)", "kernel": "FBP ramp"},
    {"manufacturer": "ASTER IMAGING", "model": "Aster Tri-Head", "software": "AsterWorks 2.9",
     "tracer": "Iofetamine (123I)", "series": "CBF IMP recon", "kernel": "3D-OSEM"},
)
I123_HALF_LIFE_S = "47592"     # 13.22 h
FEET_FIRST = ("102541007", "feet-first")
HEAD_FIRST = ("102540008", "headfirst")


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    c = Dataset()
    c.CodeValue, c.CodingSchemeDesignator, c.CodeMeaning = value, scheme, meaning
    return c


def _ds(v: float) -> str:
    """A decimal string of at most 16 characters."""
    for digits in (10, 9, 8, 7, 6, 5, 4):
        s = f"{float(v):.{digits}g}"
        if len(s) <= 16:
            return s
    raise ValueError(f"{v} does not fit a DS")


def uid(key: str, what: str) -> str:
    """A deterministic 2.25 UID from a name (same seed, same UIDs)."""
    return "2.25." + str(uuid.uuid5(uuid.NAMESPACE_OID, f"spectssp-worldb/{key}/{what}").int)


def draw_identity(rng: np.random.Generator, key: str, age: float, layout: str | None) -> dict[str, Any]:
    """Patient, study and encoding choices of one study (deterministic from ``rng``)."""
    u = rng.random(8)
    day = dt.date(2021, 3, 1) + dt.timedelta(days=int(u[0] * 1100))
    minute = 7 * 60 + 30 + int(u[1] * 540)
    birth = day - dt.timedelta(days=int(age * 365.25 + u[2] * 360))
    digest = hashlib.sha256(key.encode()).hexdigest()
    return {
        "key": key,
        "vendor": int(u[3] * len(VENDORS)),
        "layout": layout or LAYOUTS[int(u[4] < 0.4)],
        "encoding": ENCODINGS[int(u[5] * len(ENCODINGS))],
        "syntax": "implicit" if u[6] < 0.3 else "explicit",
        "patient_id": "WB" + str(int(digest[:12], 16) % 10**9).zfill(9),
        "patient_name": "WORLDB^" + digest[12:20].upper(),
        "sex": "F" if u[7] < 0.55 else "M",
        "age": f"{int(age):03d}Y",
        "birth": birth.strftime("%Y%m%d"),
        "date": day.strftime("%Y%m%d"),
        "time": f"{minute // 60:02d}{minute % 60:02d}00",
        "inject": f"{(minute - 15) // 60:02d}{(minute - 15) % 60:02d}00",
        "accession": "B" + digest[20:28].upper(),
        "weight": round(45 + float(rng.random()) * 40, 1),
        "size_m": round(1.45 + float(rng.random()) * 0.4, 2),
        "dose_mbq": float(rng.choice([111.0, 148.0, 167.0, 222.0])),
    }


def _encode(arr: np.ndarray, encoding: str) -> tuple[np.ndarray, float | None, int]:
    """(stored values, RescaleSlope or None, PixelRepresentation)."""
    if encoding == "int16_slope":
        slope = max(float(np.abs(arr).max()), 1e-6) / 32000.0
        return np.round(arr / slope).astype("<i2"), float(_ds(slope)), 1
    pos = np.clip(arr, 0, None)
    if encoding == "uint16_slope":
        slope = max(float(pos.max()), 1e-6) / 64000.0
        return np.round(pos / slope).astype("<u2"), float(_ds(slope)), 0
    top = float(pos.max())
    if top > 65535:
        slope = top / 65000.0
        return np.round(pos / slope).astype("<u2"), float(_ds(slope)), 0
    return np.round(pos).astype("<u2"), None, 0


def _base(idn: dict[str, Any], cam: dict[str, Any], sop_uid: str) -> Dataset:
    """Patient, study, series, frame of reference, equipment, NM and isotope modules."""
    v = VENDORS[idn["vendor"]]
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
    ds.SOPClassUID, ds.SOPInstanceUID = NM_STORAGE, sop_uid
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = idn["date"]
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = idn["time"]
    ds.AccessionNumber = idn["accession"]
    ds.Modality = "NM"
    ds.Manufacturer = v["manufacturer"]
    ds.InstitutionName = "World B General Hospital"
    ds.ReferringPhysicianName = "REFERRER^B"
    ds.StationName = "NMB01"
    ds.StudyDescription = "NM Brain perfusion"
    ds.SeriesDescription = v["series"]
    ds.ManufacturerModelName = v["model"]
    ds.PatientName = idn["patient_name"]
    ds.PatientID = idn["patient_id"]
    ds.IssuerOfPatientID = "WORLDB"
    ds.PatientBirthDate = idn["birth"]
    ds.PatientSex = idn["sex"]
    ds.PatientAge = idn["age"]
    ds.PatientWeight = _ds(idn["weight"])
    ds.PatientSize = _ds(idn["size_m"])
    ds.BodyPartExamined = "BRAIN"
    ds.DeviceSerialNumber = "B" + idn["key"][-6:].replace("/", "0")
    ds.SoftwareVersions = v["software"]
    ds.PatientPosition = cam["position"]
    ds.StudyInstanceUID = uid(idn["key"], "study")
    ds.SeriesInstanceUID = uid(idn["key"], "series")
    ds.StudyID = idn["accession"][-4:]
    ds.SeriesNumber = 7
    ds.FrameOfReferenceUID = uid(idn["key"], "for")
    ds.PositionReferenceIndicator = ""
    orient = _code("102538003", "SCT", "recumbent")
    orient.PatientOrientationModifierCodeSequence = Sequence([_code("40199007", "SCT", "supine")])
    ds.PatientOrientationCodeSequence = Sequence([orient])
    gantry = HEAD_FIRST if cam["position"] == "HFS" else FEET_FIRST
    ds.PatientGantryRelationshipCodeSequence = Sequence([_code(gantry[0], "SCT", gantry[1])])
    window = Dataset()
    limits = Dataset()
    limits.EnergyWindowLowerLimit, limits.EnergyWindowUpperLimit = "143", "175"
    window.EnergyWindowRangeSequence = Sequence([limits])
    window.EnergyWindowName = "EM 159"
    ds.EnergyWindowInformationSequence = Sequence([window])
    radio = Dataset()
    radio.Radiopharmaceutical = v["tracer"]
    radio.RadionuclideCodeSequence = Sequence([])
    radio.RadiopharmaceuticalRoute = "Intravenous"
    radio.RadiopharmaceuticalStartTime = idn["inject"]
    radio.RadionuclideTotalDose = _ds(idn["dose_mbq"])
    radio.RadionuclideHalfLife = I123_HALF_LIFE_S
    ds.RadiopharmaceuticalInformationSequence = Sequence([radio])
    rot = Dataset()
    rot.StartAngle, rot.AngularStep, rot.ScanArc = "0", "4", "360"
    rot.RotationDirection = "CC"
    rot.ActualFrameDuration = 40000
    rot.NumberOfFramesInRotation = 90
    ds.RotationInformationSequence = Sequence([rot])
    ds.TypeOfDetectorMotion = "STEP AND SHOOT"
    ds.CorrectedImage = ["UNIF", "COR", "ATTN"]
    ds.ConvolutionKernel = v["kernel"]
    ds.ReconstructionDiameter = _ds(cam["matrix"] * cam["pixel_mm"])
    return ds


def _pixels(ds: Dataset, stored: np.ndarray, slope: float | None, pixel_rep: int) -> None:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(stored.shape[-2]), int(stored.shape[-1])
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = pixel_rep
    if slope is not None:
        ds.RescaleSlope = _ds(slope)
        ds.RescaleIntercept = "0"
        ds.RescaleType = "CNTS"
    ds.PixelData = np.ascontiguousarray(stored).tobytes()


def _save(ds: Dataset, path: Path, syntax: str) -> Path:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = SYNTAXES[syntax]
    meta.ImplementationVersionName = "SPECTSSP_WB"
    ds.file_meta = meta
    atomic_write(path, lambda fh: ds.save_as(fh, enforce_file_format=True))
    return path


def write_nm(image: sitk.Image, idn: dict[str, Any], cam: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write the reconstructed ``image`` (patient LPS) as NM Image Storage into ``out_dir``."""
    arr = sitk.GetArrayFromImage(image)                 # (slice, row, column)
    stored, slope, rep = _encode(arr, idn["encoding"])
    d = np.array(image.GetDirection()).reshape(3, 3)
    row, col, slice_dir = d[:, 0], d[:, 1], d[:, 2]
    normal = np.cross(row, col)
    step = image.GetSpacing()[2]
    signed_step = step * float(np.sign(normal @ slice_dir))
    origin = np.array(image.GetOrigin())
    iop = [_ds(x) for x in (*row, *col)]
    px = [_ds(image.GetSpacing()[1]), _ds(image.GetSpacing()[0])]
    out_dir = Path(out_dir)
    key, syntax = idn["key"], idn["syntax"]
    if idn["layout"] == "multiframe":
        ds = _base(idn, cam, uid(key, "image"))
        ds.InstanceNumber = 1
        ds.NumberOfFrames = stored.shape[0]
        ds.FrameIncrementPointer = 0x00540080
        ds.SliceVector = list(range(1, stored.shape[0] + 1))
        ds.NumberOfSlices = stored.shape[0]
        ds.NumberOfEnergyWindows = ds.NumberOfDetectors = ds.NumberOfRotations = 1
        ds.PixelSpacing = px
        ds.SliceThickness = _ds(step)
        ds.SpacingBetweenSlices = _ds(signed_step)
        det = Dataset()
        det.CollimatorGridName, det.CollimatorType = "LEHR-FAN", "FANB"
        det.ImagePositionPatient = [_ds(x) for x in origin]
        det.ImageOrientationPatient = iop
        ds.DetectorInformationSequence = Sequence([det])
        _pixels(ds, stored, slope, rep)
        return [_save(ds, out_dir / f"{uid(key, 'image')[-12:]}.dcm", syntax)]
    paths = []
    for k in range(stored.shape[0]):
        ds = _base(idn, cam, uid(key, f"slice/{k}"))
        ds.InstanceNumber = k + 1
        pos = origin + k * step * slice_dir
        ds.ImagePositionPatient = [_ds(x) for x in pos]
        ds.ImageOrientationPatient = iop
        ds.SliceLocation = _ds(float(pos @ normal))
        ds.PixelSpacing = px
        ds.SliceThickness = _ds(step)
        ds.NumberOfFrames = 1
        ds.FrameIncrementPointer = 0x00540080
        ds.SliceVector = [1]
        _pixels(ds, stored[k:k + 1], slope, rep)
        paths.append(_save(ds, out_dir / f"IM{k + 1:05d}", syntax))
    return paths
