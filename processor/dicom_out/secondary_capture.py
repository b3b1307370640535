"""RGB Secondary Capture images (3D-SSP sheet, Grad-CAM overlay) in the source study.

PACS viewers show SC images to every radiologist without plugins, so the rendered sheets go
out as SC. The caller burns the research-use notice into the pixels; this module adds it to
the text attributes too and copies only sanitised patient/study values.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage

from processor.dicom_out.common import (
    BODY_PART, MANUFACTURER, RUO_TEXT, SOFTWARE_NAME, OutputRecord, atomic_save, check_uid,
    output_path, spectssp_equipment,
)
from processor.dicom_out.sanitize import sanitize_description, sanitize_reference

logger = logging.getLogger(__name__)

SCKind = Literal["ssp-sheet", "gradcam"]
_CONTRIBUTION = {
    "ssp-sheet": "3D-SSP Z-score surface maps",
    "gradcam": "CNN classification with Grad-CAM overlay",
}


def write_secondary_capture(
    source: Dataset,
    rgb: np.ndarray,
    *,
    kind: SCKind,
    series_uid: str,
    series_number: int,
    instance_number: int,
    description: str,
    out_dir: Path,
    software_version: str,
) -> OutputRecord:
    """Write ``rgb`` (H, W, 3 uint8) as an SC image in the study of ``source``.

    Returns the record for result.json; ``warnings`` lists what was sanitised in the copied
    patient/study values. Raises ``ValueError``/``TypeError`` for a wrong image or UID (caller
    bugs) and ``SpectSSPError(OUTPUT_WRITE_FAILED)`` when the file cannot be written.
    """
    if kind not in _CONTRIBUTION:
        raise ValueError(f"kind must be one of {', '.join(_CONTRIBUTION)}, got {kind!r}.")
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8:
        raise TypeError("rgb must be a numpy array of dtype uint8.")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape[:2]) < 1:
        raise ValueError(f"rgb must have shape (rows, columns, 3), got {rgb.shape}.")
    check_uid(series_uid, "series_uid")
    ref, warnings = sanitize_reference(source)
    sop_uid = str(hd.UID())
    series_description = _series_description(description)

    sc = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=ref,
        pixel_array=np.ascontiguousarray(rgb),
        photometric_interpretation=hd.PhotometricInterpretationValues.RGB,
        bits_allocated=8,
        coordinate_system=hd.CoordinateSystemNames.PATIENT,
        series_instance_uid=series_uid,
        series_number=int(series_number),
        sop_instance_uid=sop_uid,
        instance_number=int(instance_number),
        manufacturer=MANUFACTURER,
        # highdicom insists on an orientation for the PATIENT coordinate system; a sheet of
        # many views has none, so the Type 2 attribute is emptied below.
        patient_orientation=("L", "P"),
        transfer_syntax_uid=ExplicitVRLittleEndian,
        contributing_equipment=[spectssp_equipment(software_version, _CONTRIBUTION[kind])],
        series_description=series_description,
        manufacturer_model_name=SOFTWARE_NAME,
        software_versions=str(software_version)[:64],
    )
    sc.PatientOrientation = None
    sc.ConversionType = "WSD"  # workstation: rendered by software, not digitised
    sc.BurnedInAnnotation = "YES"
    sc.BodyPartExamined = BODY_PART
    sc.ImageComments = f"{sanitize_description(description, 900)}. {RUO_TEXT}. {SOFTWARE_NAME} {software_version}."
    sc.DerivationDescription = f"{_CONTRIBUTION[kind]} ({SOFTWARE_NAME} {software_version})"[:1024]
    if ref.get("SOPInstanceUID") and ref.get("SOPClassUID"):
        item = Dataset()
        item.ReferencedSOPClassUID = ref.SOPClassUID
        item.ReferencedSOPInstanceUID = ref.SOPInstanceUID
        sc.SourceImageSequence = [item]

    path = output_path(out_dir, "SC", sop_uid)
    atomic_save(sc, path, ref.StudyInstanceUID)
    logger.info("study %s: wrote %s %s (%dx%d)", ref.StudyInstanceUID, kind, path.name,
                rgb.shape[1], rgb.shape[0])
    return OutputRecord(kind=kind, path=path, sop_class_uid=str(SecondaryCaptureImageStorage),
                        sop_instance_uid=sop_uid, series_uid=series_uid, warnings=warnings)


def _series_description(description: str) -> str:
    """The caller's description plus a short research-use marker, within 64 bytes."""
    suffix = " - RESEARCH USE ONLY"
    return sanitize_description(description, 64 - len(suffix)) + suffix
