"""Small synthetic source datasets and results for DICOM output and network tests."""
from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, NuclearMedicineImageStorage, generate_uid

from atlas.analysis import Indices, RegionStats, Statistics
from models.inference import Classification
from processor.result import Registration, Result, Status


def make_source_nm(*, birth_date: str = "00000000", name: str = "Müller^Jürgen",
                   patient_id: str = "ID-" + "9" * 70, study_uid: str | None = None) -> Dataset:
    """A tiny NM image with real-world defects: invalid birth date, non-ASCII name (Latin-1),
    an over-long PatientID and AccessionNumber, a control character in the description."""
    with warnings.catch_warnings():  # pydicom warns about the deliberately bad values
        warnings.simplefilter("ignore")
        return _make(birth_date, name, patient_id, study_uid)


def _make(birth_date: str, name: str, patient_id: str, study_uid: str | None) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = NuclearMedicineImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = NuclearMedicineImageStorage
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "NM"
    ds.PatientName = name
    ds.PatientID = patient_id
    ds.PatientBirthDate = birth_date
    ds.PatientSex = "F"
    ds.StudyDate = "20250314"
    ds.StudyTime = "093000"
    ds.AccessionNumber = "ACC-0123456789-XYZ"
    ds.StudyID = "S1"
    ds.ReferringPhysicianName = "Ref^Doc"
    ds.StudyDescription = "Brain perfusion\x07 IMP"
    ds.Manufacturer = "ACME Nuclear"
    ds.ManufacturerModelName = "Gamma 3000"
    ds.SeriesNumber = 3
    ds.InstanceNumber = 1
    ds.Rows, ds.Columns = 8, 8
    ds.NumberOfFrames = 2
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = np.arange(128, dtype=np.uint16).tobytes()
    return ds


def save(ds: Dataset, path: Path) -> Path:
    """Write ``ds`` as a DICOM file (the source as a PACS would send it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def _sr_result() -> dict[str, Any]:
    """A processed study's result.json (the SR writer's input), built as the pipeline builds it."""
    regions = {"Occipital_L": RegionStats(2.41, 37.5), "Posterior cingulate gyrus": RegionStats(0.35, 1.25),
               "Precuneus_R": RegionStats(1.75, 18.0)}
    stats = Statistics(("GLB", "THL", "PNS", "CBL"), regions, Indices(1.93, 14.2, 2.6, 0.31), "GLB", None)
    return Result([Path("/in/IM0001.dcm")], generate_uid(), generate_uid(), Status.OK,
                  classification=Classification("DLB", {"AD": 0.21, "DLB": 0.67, "NC": 0.12}, "alexnet-imp@1.2"),
                  registration=Registration("rigid+affine+syn", 0.962, True, 0.85), statistics=stats).as_dict()


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
