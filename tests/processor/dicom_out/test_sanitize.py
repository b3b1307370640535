"""Bad values copied from real files are repaired with a warning, never a failure."""
from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from processor.dicom_out.sanitize import safe_uid_for_filename, sanitize_reference, truncate_bytes
from tests.helpers.dicom import make_source_nm

# The tests set deliberately invalid values; pydicom warns about each one.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_invalid_birth_date_is_emptied_with_warning() -> None:
    ref, warnings = sanitize_reference(make_source_nm(birth_date="00000000"))
    assert ref.PatientBirthDate == ""
    assert any("PatientBirthDate" in w for w in warnings)
    assert all("00000000" not in w for w in warnings)  # warnings never carry values


@pytest.mark.parametrize("raw, fixed", [("19450230", ""), ("1945.02.03", "19450203"), ("19450203", "19450203")])
def test_dates(raw: str, fixed: str) -> None:
    ref, _ = sanitize_reference(make_source_nm(birth_date=raw))
    assert ref.PatientBirthDate == fixed


def test_long_and_odd_strings_fit_their_vr() -> None:
    src = make_source_nm()
    src.StudyTime = "09:30:00"
    src.PatientSex = "female"
    ref, warnings = sanitize_reference(src)
    assert len(ref.PatientID) == 64 and ref.PatientID == src.PatientID[:64]
    assert len(ref.AccessionNumber) <= 16
    assert "\x07" not in ref.StudyDescription
    assert ref.StudyTime == "093000"
    assert ref.PatientSex == ""
    for kw in ("PatientID", "AccessionNumber", "StudyDescription", "PatientSex"):
        assert any(w.startswith(kw) for w in warnings), kw


def test_non_ascii_name_kept_as_utf8() -> None:
    ref, warnings = sanitize_reference(make_source_nm(name="Müller^Jürgen"))
    assert str(ref.PatientName) == "Müller^Jürgen"
    assert ref.SpecificCharacterSet == "ISO_IR 192"
    assert not any("PatientName" in w for w in warnings)


def test_single_component_name_gets_caret_silently() -> None:
    ref, warnings = sanitize_reference(make_source_nm(name="Bono"))
    assert str(ref.PatientName) == "Bono^"
    assert not any("PatientName" in w for w in warnings)


def test_utf8_byte_length_is_bounded() -> None:
    name = "É" * 40 + "^" + "Ö" * 40
    ref, _ = sanitize_reference(make_source_nm(name=name))
    assert len(str(ref.PatientName).encode("utf-8")) <= 64
    assert truncate_bytes("ÉÉÉ", 5) == "ÉÉ"


def test_study_uid_leading_zero_is_kept_garbage_replaced() -> None:
    ref, warnings = sanitize_reference(make_source_nm(study_uid="1.2.03.4"))
    assert ref.StudyInstanceUID == "1.2.03.4"
    assert any("leading zero" in w for w in warnings)
    src = make_source_nm()
    src.StudyInstanceUID = "not-a-uid"
    ref, warnings = sanitize_reference(src)
    assert ref.StudyInstanceUID != "not-a-uid" and ref.StudyInstanceUID[0].isdigit()
    assert any("new study UID" in w for w in warnings)


def test_missing_type2_attributes_present_empty() -> None:
    ds = Dataset()
    ds.StudyInstanceUID = "1.2.3"
    ref, warnings = sanitize_reference(ds)
    assert ref.PatientName == "" and ref.PatientID == "" and ref.StudyDate == ""
    assert warnings == []


def test_safe_uid_for_filename() -> None:
    assert safe_uid_for_filename("1.2.3") == "1.2.3"
    assert safe_uid_for_filename("../1.2/3") == "1.23"
    with pytest.raises(ValueError):
        safe_uid_for_filename("../..")


def test_multi_valued_invalid_dates_and_ages_are_dropped_not_passed_on() -> None:
    # A multi-valued patient field used to be cleaned of control characters only: pydicom then
    # logged the invalid value, and highdicom raised with the birth date in its message.
    src = make_source_nm()
    src.PatientBirthDate = ["19A0-13-45", "19A0-13-46"]
    src.PatientAge = ["Y9Q7", "Y9Q8"]
    ref, warnings = sanitize_reference(src)
    assert "PatientAge" not in ref or ref.PatientAge in ("", None)
    assert ref.get("PatientBirthDate", "") in ("", None)
    assert any("PatientBirthDate" in w for w in warnings) and any("PatientAge" in w for w in warnings)
    assert all("19A0" not in w and "Y9Q" not in w for w in warnings)


def test_multi_valued_field_keeps_its_valid_values() -> None:
    src = make_source_nm()
    src.PatientAge = ["070Y", "bad"]
    ref, _ = sanitize_reference(src)
    assert str(ref.PatientAge) == "070Y"
