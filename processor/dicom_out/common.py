"""What every DICOM output shares: the record returned to the pipeline, atomic writes,
and the Contributing Equipment item that names this software (as IHE AI Results does)."""
from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from pathlib import Path

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from processor.dicom_out.sanitize import safe_uid_for_filename
from processor.result import OutputEntry
from spectssp.errors import ErrorCode, SpectSSPError
from spectssp.fsutil import atomic_write

logger = logging.getLogger(__name__)

SOFTWARE_NAME = "spectssp"
MANUFACTURER = "spectssp project"
RUO_TEXT = "RESEARCH USE ONLY - NOT FOR DIAGNOSIS"
# Brain is not a paired organ: with BodyPartExamined set, Laterality may be absent.
BODY_PART = "BRAIN"


@dataclass
class OutputRecord:
    """One written DICOM object, as listed in result.json ``outputs``."""

    kind: str
    path: Path
    sop_class_uid: str
    sop_instance_uid: str
    series_uid: str
    warnings: list[str] = field(default_factory=list)

    def as_result_output(self) -> OutputEntry:
        """This object's entry in result.json ``outputs``."""
        return OutputEntry(self.kind, str(self.path), self.sop_class_uid)


def check_uid(uid: str, what: str) -> str:
    """Reject a caller-supplied UID that is not valid DICOM (a programming error)."""
    text = str(uid)
    if not text or len(text) > 64 or safe_uid_for_filename(text) != text:
        raise ValueError(f"{what} must be a valid DICOM UID of at most 64 characters.")
    return text


def spectssp_equipment(software_version: str, description: str) -> hd.ContributingEquipment:
    """Contributing Equipment item: this software as Processing Equipment, with version."""
    return hd.ContributingEquipment(
        manufacturer=MANUFACTURER,
        purpose_of_reference=codes.DCM.ProcessingEquipment,
        manufacturer_model_name=SOFTWARE_NAME,
        software_versions=str(software_version)[:64],
        contribution_datetime=datetime.datetime.now(),
        contribution_description=description[:64],
    )


def output_path(out_dir: Path, prefix: str, sop_instance_uid: str) -> Path:
    """``<out_dir>/<prefix>_<sop uid>.dcm``: the name comes from a sanitised UID only."""
    return Path(out_dir) / f"{prefix}_{safe_uid_for_filename(sop_instance_uid)}.dcm"


def atomic_save(ds: Dataset, path: Path, study_uid: str) -> None:
    """Write atomically (see :func:`spectssp.fsutil.atomic_write`); failures become
    ``ErrorCode.OUTPUT_WRITE_FAILED`` with the study UID in the log."""
    try:
        atomic_write(Path(path), lambda fh: ds.save_as(fh, enforce_file_format=True))
    except Exception as exc:
        logger.error("study %s: writing %s failed: %s", study_uid, path.name, exc)
        raise SpectSSPError(ErrorCode.OUTPUT_WRITE_FAILED,
                            f"could not write {path.name} in {path.parent}: {exc}.") from None
