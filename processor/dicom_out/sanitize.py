"""Sanitise patient, study and equipment attributes copied from real source files.

Real scanners and archives write values that break strict writers: a birth date of
``00000000``, names longer than their VR allows, control characters, ACR-NEMA style dates.
Our outputs must still be written (a radiologist waits for them), so every copied value is
checked against its VR here and repaired or dropped, with one warning per change. Warnings
name the attribute, never its value: values are patient data and warnings end up in logs.
"""
from __future__ import annotations

import datetime
import logging
import re
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pydicom.valuerep import DSfloat

logger = logging.getLogger(__name__)

UTF8 = "ISO_IR 192"

# Attribute keyword -> VR for what the outputs copy: Patient and General Study modules, the
# source's equipment (highdicom records it as acquisition equipment) and its identifiers.
PATIENT_STUDY: dict[str, str] = {
    "PatientName": "PN",
    "PatientID": "LO",
    "IssuerOfPatientID": "LO",
    "PatientBirthDate": "DA",
    "PatientSex": "CS",
    "PatientAge": "AS",
    "PatientSize": "DS",
    "PatientWeight": "DS",
    "StudyInstanceUID": "UI",
    "StudyDate": "DA",
    "StudyTime": "TM",
    "ReferringPhysicianName": "PN",
    "StudyID": "SH",
    "AccessionNumber": "SH",
    "StudyDescription": "LO",
}
EQUIPMENT: dict[str, str] = {
    "Manufacturer": "LO",
    "ManufacturerModelName": "LO",
    "DeviceSerialNumber": "LO",
    "SoftwareVersions": "LO",
    "InstitutionName": "LO",
    "InstitutionalDepartmentName": "LO",
    "StationName": "SH",
}
SOURCE_IDS: dict[str, str] = {
    "SOPClassUID": "UI",
    "SOPInstanceUID": "UI",
    "SeriesInstanceUID": "UI",
    "Modality": "CS",
    "BodyPartExamined": "CS",
}
# Type 2 attributes: present (possibly empty) in every output.
_TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate",
          "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber")

MAX_BYTES = {"AE": 16, "AS": 4, "CS": 16, "DA": 8, "DS": 16, "LO": 64, "PN": 64, "SH": 16,
             "TM": 14, "UI": 64, "ST": 1024, "LT": 10240}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_UID_STRICT = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
_CS = re.compile(r"[^A-Z0-9 _]")
_AS = re.compile(r"^[0-9]{3}[DWMY]$")
_TM = re.compile(r"^([01][0-9]|2[0-3])([0-5][0-9]([0-5][0-9](\.[0-9]{1,6})?)?)?$")


_DS_VALID = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def truncate_bytes(text: str, max_bytes: int, encoding: str = "utf-8") -> str:
    """Cut ``text`` to at most ``max_bytes`` encoded bytes without splitting a character.

    VR lengths are checked in bytes by validators such as dciodvfy, so a UTF-8 name within
    64 characters can still be too long.
    """
    out = text
    while len(out.encode(encoding, errors="replace")) > max_bytes:
        out = out[:-1]
    return out.rstrip()


def clean_text(value: str, vr: str, max_bytes: int | None = None) -> str:
    """Remove control characters and the backslash delimiter, then fit the VR's length."""
    text = _CONTROL.sub(" ", value).replace("\\", " ").strip()
    text = re.sub(r" {2,}", " ", text)
    limit = max_bytes if max_bytes is not None else MAX_BYTES.get(vr)
    return truncate_bytes(text, limit) if limit else text


def _raw_value(source: Dataset, keyword: str) -> tuple[bool, Any]:
    """Return (present, value) without letting a malformed element raise."""
    if keyword not in source:
        return False, None
    try:
        return True, source[keyword].value
    except Exception:  # undecodable bytes, bad charset: treated as unreadable
        return True, _Unreadable


class _Unreadable:
    """Marker for a value pydicom could not decode."""


def _fix_date(text: str) -> str | None:
    digits = text.replace(".", "").replace("-", "").replace("/", "") if len(text) == 10 else text
    if not re.fullmatch(r"[0-9]{8}", digits):
        return None
    try:
        day = datetime.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None
    if day.year < 1850:
        return None
    return digits


def _fix_time(text: str) -> str | None:
    t = text.strip()
    if re.fullmatch(r"[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?", t):
        t = t.replace(":", "")
    if not _TM.match(t):
        return None
    return t[:14]


def _fix_person_name(value: Any) -> str:
    """Clean each component; at most 3 groups of 5 components, 64 bytes per group."""
    groups = []
    for g in str(value).split("=")[:3]:
        comps = [clean_text(c, "PN", 64) for c in g.split("^")[:5]]
        groups.append(truncate_bytes("^".join(comps).rstrip("^"), 64))
    # A single component is legal but ambiguous; highdicom warns (and logs the name) unless
    # a caret disambiguates it. "Family^" means the same as "Family".
    if groups and groups[0] and "^" not in groups[0]:
        groups[0] = truncate_bytes(groups[0], 63) + "^"
    return "=".join(groups).rstrip("=")


def _same_name(a: str, b: str) -> bool:
    """Equal up to trailing separators, which PN allows to be omitted."""
    norm = lambda s: "=".join(g.rstrip("^") for g in s.split("=")).rstrip("=")  # noqa: E731
    return norm(a) == norm(b)


def _fix_values(keyword: str, vr: str, items: list[str]) -> tuple[Any, str | None]:
    """A multi-valued element: every value repaired by the single-value rules of its VR (an
    invalid date or age is dropped, never passed on for pydicom to log or highdicom to raise
    on with the value in the message: it may be patient data)."""
    fixed_items = []
    for item in items:
        fixed, _ = _fix_value(keyword, vr, item)
        if fixed not in (None, ""):
            fixed_items.append(str(fixed))
    if len("\\".join(fixed_items).encode("utf-8")) > 64 * max(len(items), 1):
        fixed_items = fixed_items[:1]
    if fixed_items == items:
        return fixed_items, None
    if not fixed_items:
        return None, f"{keyword} had no value valid for VR {vr} and was dropped"
    return fixed_items, f"{keyword} values were cleaned to fit VR {vr}"


def _fix_value(keyword: str, vr: str, value: Any) -> tuple[Any, str | None]:
    """Return the repaired value (None = drop) and a warning sentence when it changed."""
    if value is _Unreadable:
        return None, f"{keyword} could not be decoded and was left empty"
    if value is None or value == "":
        return "", None
    if vr == "PN":
        fixed = _fix_person_name(value)
        if not _same_name(fixed, str(value)):
            return fixed, f"{keyword} contained characters or components not allowed in PN, or was too long; it was cleaned"
        return fixed, None
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return _fix_values(keyword, vr, [str(v) for v in value])
    text = str(value)
    if vr == "DA":
        fixed = _fix_date(text.strip())
        if fixed is None:
            return "", f"{keyword} was not a valid date and was left empty"
        return fixed, (None if fixed == text else f"{keyword} was converted to the DICOM date format")
    if vr == "TM":
        fixed = _fix_time(text)
        if fixed is None:
            return "", f"{keyword} was not a valid time and was left empty"
        return fixed, (None if fixed == text else f"{keyword} was converted to the DICOM time format")
    if vr == "CS":
        fixed = _CS.sub("", clean_text(text.upper(), vr))
        if keyword == "PatientSex" and fixed not in ("M", "F", "O", ""):
            return "", f"{keyword} was not M, F or O and was left empty"
        return fixed, (None if fixed == text else f"{keyword} was cleaned to fit VR CS")
    if vr == "AS":
        if not _AS.match(text):
            return None, f"{keyword} was not a valid age string and was dropped"
        return text, None
    if vr == "DS":
        try:
            number = float(text)
        except ValueError:
            return None, f"{keyword} was not a number and was dropped"
        if number != number or number in (float("inf"), float("-inf")):
            return None, f"{keyword} was not a finite number and was dropped"
        if _DS_VALID.match(text.strip()) and len(text.strip()) <= 16:
            return text.strip(), None  # already a valid DS ("63" is as good as "63.0")
        fixed_ds = DSfloat(number, auto_format=True)
        return fixed_ds, f"{keyword} was reformatted to fit VR DS"
    if vr == "UI":
        return _fix_uid(keyword, text)
    fixed = clean_text(text, vr)
    if fixed != text:
        return fixed, f"{keyword} contained characters not allowed in VR {vr} or was too long; it was cleaned"
    return fixed, None


def _fix_uid(keyword: str, text: str) -> tuple[str | None, str | None]:
    t = text.strip().rstrip("\x00")
    if _UID_STRICT.match(t) and len(t) <= 64:
        return t, None
    if _UID.match(t) and len(t) <= 64:
        # Leading zeros in a component are non-conformant but archives match UIDs as exact
        # strings: keeping it is what puts our result into the source study.
        return t, f"{keyword} has a component with a leading zero (not conformant); kept unchanged so the result joins the source"
    return None, f"{keyword} is not a valid UID"


def sanitize_reference(source: Dataset) -> tuple[Dataset, list[str]]:
    """Return a clean dataset holding what outputs copy from ``source``, plus warnings.

    The result carries the Patient and General Study modules, the source equipment and the
    source identifiers (for evidence references), encoded as UTF-8 (ISO_IR 192) so that
    non-ASCII names survive. It never raises for bad values: a StudyInstanceUID that cannot be
    used at all is replaced by a new one (the result then forms its own study) and says so.
    """
    warnings: list[str] = []
    ref = Dataset()
    ref.SpecificCharacterSet = UTF8
    for table in (PATIENT_STUDY, EQUIPMENT, SOURCE_IDS):
        for keyword, vr in table.items():
            present, raw = _raw_value(source, keyword)
            if not present:
                if keyword in _TYPE2:
                    setattr(ref, keyword, "")
                continue
            value, warning = _fix_value(keyword, vr, raw)
            if warning:
                warnings.append(warning)
            if value is None:
                if keyword in _TYPE2:
                    setattr(ref, keyword, "")
                continue
            setattr(ref, keyword, value)
    if not ref.get("StudyInstanceUID"):
        ref.StudyInstanceUID = generate_uid()
        warnings.append("StudyInstanceUID was missing or invalid; a new study UID was generated, "
                        "so the results will not join the source study")
    for w in warnings:
        logger.warning("study %s: %s", ref.StudyInstanceUID, w)
    return ref, warnings


def sanitize_description(text: str, max_bytes: int = 64) -> str:
    """Clean a free-text description for an LO attribute (SeriesDescription)."""
    return clean_text(text, "LO", max_bytes)


def safe_uid_for_filename(uid: str) -> str:
    """Keep only digits and dots: file names must never carry input-derived text."""
    cleaned = re.sub(r"[^0-9.]", "", str(uid)).strip(".")
    if not cleaned:
        raise ValueError("a UID used for a file name must contain digits.")
    return cleaned[:64]
