"""Tracer identification (issue 12): every place a header states it, in the order of trust, and
the policies that decide what happens to a study no configured database covers."""
from __future__ import annotations

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from processor.intake import load_series
from processor.intake.tracer import TracerId, TracerRule, decide, identify
from spectssp.errors import ErrorCode, SpectSSPError


def code(value: str, scheme: str, meaning: str = "") -> Dataset:
    c = Dataset()
    c.CodeValue, c.CodingSchemeDesignator = value, scheme
    if meaning:
        c.CodeMeaning = meaning
    return c


def header(*, text: str | None = None, compound: Dataset | None = None, nuclide: Dataset | None = None,
           window: tuple[str, str] | None = None, series: str = "", study: str = "") -> Dataset:
    """A header stating the tracer only where asked."""
    ds = Dataset()
    ds.SeriesDescription, ds.StudyDescription = series, study
    item = Dataset()
    if text is not None:
        item.Radiopharmaceutical = text
    item.RadiopharmaceuticalCodeSequence = Sequence([compound] if compound is not None else [])
    if nuclide is not None:
        item.RadionuclideCodeSequence = Sequence([nuclide])
    ds.RadiopharmaceuticalInformationSequence = Sequence([item])
    if window is not None:
        r = Dataset()
        r.EnergyWindowLowerLimit, r.EnergyWindowUpperLimit = window
        w = Dataset()
        w.EnergyWindowRangeSequence = Sequence([r])
        ds.EnergyWindowInformationSequence = Sequence([w])
    return ds


# (header, expected name, expected radionuclide, the evidence that decided it)
CASES = {
    # 1. Radiopharmaceutical text
    "text IMP": (header(text="123I-IMP"), "IMP", "I-123", "radiopharmaceutical '123I-IMP'"),
    "text iofetamine": (header(text="Iofetamine"), "IMP", "I-123", "radiopharmaceutical"),
    "text ECD": (header(text="99mTc-ECD"), "ECD", "Tc-99m", "radiopharmaceutical"),
    "text Neurolite": (header(text="Neurolite"), "ECD", "Tc-99m", "radiopharmaceutical"),
    "text HMPAO": (header(text="Tc99m HMPAO"), "HMPAO", "Tc-99m", "radiopharmaceutical"),
    "text Ceretec": (header(text="Ceretec"), "HMPAO", "Tc-99m", "radiopharmaceutical"),
    "text DaTscan": (header(text="DaTSCAN"), "FP-CIT", "I-123", "radiopharmaceutical"),
    "text FDG": (header(text="Fludeoxyglucose F18"), "FDG", "F-18", "radiopharmaceutical"),
    # 1. Radiopharmaceutical code (SNOMED CT and SRT), no text
    "code IMP SCT": (header(compound=code("78481003", "SCT")), "IMP", "I-123", "radiopharmaceutical code 78481003"),
    "code ECD SCT": (header(compound=code("766886003", "SCT")), "ECD", "Tc-99m", "radiopharmaceutical code"),
    "code ECD SRT": (header(compound=code("C-B10C4", "SRT")), "ECD", "Tc-99m", "radiopharmaceutical code"),
    "code HMPAO SCT": (header(compound=code("77313009", "SCT")), "HMPAO", "Tc-99m", "radiopharmaceutical code"),
    "code HMPAO SRT": (header(compound=code("C-B1223", "SRT")), "HMPAO", "Tc-99m", "radiopharmaceutical code"),
    "code ioflupane": (header(compound=code("429296007", "SCT")), "FP-CIT", "I-123", "radiopharmaceutical code"),
    "code FDG SRT": (header(compound=code("C-B1031", "SRT")), "FDG", "F-18", "radiopharmaceutical code"),
    # 2. Radionuclide code only: SNOMED CT, SRT and SNM3, or its meaning alone
    "nuclide I-123 SCT": (header(nuclide=code("21572004", "SCT")), None, "I-123", "radionuclide code 21572004"),
    "nuclide I-123 SRT": (header(nuclide=code("C-114A4", "SRT")), None, "I-123", "radionuclide code C-114A4"),
    "nuclide Tc-99m SCT": (header(nuclide=code("72454006", "SCT")), None, "Tc-99m", "radionuclide code 72454006"),
    "nuclide Tc-99m SNM3": (header(nuclide=code("C-163A8", "SNM3", "^99m^Technetium")), None, "Tc-99m",
                            "radionuclide code C-163A8 (SNM3)"),
    "nuclide F-18 SRT": (header(nuclide=code("C-111A1", "SRT")), None, "F-18", "radionuclide code C-111A1"),
    "nuclide meaning": (header(nuclide=code("99999", "99LOCAL", "^123^Iodine")), None, "I-123", "radionuclide code"),
    # 3. Energy window only
    "window I-123": (header(window=("143.1", "174.9")), None, "I-123", "energy window 143.1-174.9 keV"),
    "window Tc-99m": (header(window=("126", "154")), None, "Tc-99m", "energy window 126-154 keV"),
    # 4. Descriptions last
    "series description": (header(series="Brain ECD SPECT"), "ECD", "Tc-99m", "series description"),
    "study description": (header(study="DaTscan"), "FP-CIT", "I-123", "study description"),
    # Order of trust: the compound wins over a description, a code over a window
    "text over description": (header(text="Bicisate", series="IMP brain"), "ECD", "Tc-99m", "radiopharmaceutical"),
    "nuclide over window": (header(nuclide=code("72454006", "SCT"), window=("140", "170")), None, "Tc-99m",
                            "radionuclide code"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_identify_reads_every_place_in_the_order_of_trust(case: str) -> None:
    ds, name, nuclide, first = CASES[case]
    t = identify(ds)
    assert (t.name, t.radionuclide) == (name, nuclide)
    assert t.evidence[0].startswith(first), t.evidence
    assert t.as_dict() == {"name": name, "radionuclide": nuclide, "evidence": list(t.evidence)}


def test_a_window_holding_both_photopeaks_says_nothing() -> None:
    t = identify(header(window=("120", "180")))
    assert (t.name, t.radionuclide, t.evidence) == (None, None, ())


def test_nothing_stated() -> None:
    assert identify(Dataset()) == TracerId()


@pytest.mark.parametrize("ds, what", [
    (header(text="123I-IMP", window=("126", "154")), "energy window 126-154 keV says Tc-99m, not I-123"),
    (header(text="Ceretec", nuclide=code("21572004", "SCT")), "radionuclide code 21572004 (SCT) says I-123, not Tc-99m"),
    (header(text="123I-IMP", series="Brain ECD"), "series description 'Brain ECD' says ECD, not IMP"),
])
def test_contradictions_are_kept_and_warn_or_reject_by_policy(ds: Dataset, what: str) -> None:
    t = identify(ds)
    assert what in t.conflicts[0]
    match, warnings = decide(t, TracerRule(("IMP", "HMPAO", "ECD")))
    assert match == t.name and what in warnings[0] and "contradicts" in warnings[0]
    with pytest.raises(SpectSSPError) as exc:
        decide(t, TracerRule(("IMP",), conflict="reject"))
    assert exc.value.code == ErrorCode.TRACER_CONFLICT and what in exc.value.message


def test_covered_tracer_matches_its_database() -> None:
    assert decide(identify(header(text="ECD")), TracerRule(("IMP", "ECD"))) == ("ECD", [])
    assert decide(identify(header(text="IMP")), TracerRule(("IMP", "ECD"))) == ("IMP", [])


@pytest.mark.parametrize("text, nuclide", [("ECD", "Tc-99m"), ("HMPAO", "Tc-99m"), ("FDG", "F-18"),
                                           ("DaTscan", "I-123")])
def test_a_recognised_tracer_no_database_covers_is_rejected_or_warned_by_policy(text: str, nuclide: str) -> None:
    t = identify(header(text=text))
    with pytest.raises(SpectSSPError) as exc:
        decide(t, TracerRule(("IMP",)))
    assert exc.value.code == ErrorCode.TRACER_NOT_COVERED
    assert nuclide in exc.value.message and "IMP (I-123)" in exc.value.message
    if t.name in ("FDG", "FP-CIT"):
        assert "not a perfusion tracer" in exc.value.message
    match, warnings = decide(t, TracerRule(("IMP",), not_covered="warn"))
    assert match == "IMP" and "is not covered" in warnings[0]


def test_a_radionuclide_alone_goes_to_the_database_of_that_radionuclide() -> None:
    t = identify(header(nuclide=code("C-163A8", "SNM3", "^99m^Technetium")))
    match, warnings = decide(t, TracerRule(("IMP", "ECD")))
    assert match == "ECD" and "Tc-99m but not the compound; assumed ECD" in warnings[0]
    with pytest.raises(SpectSSPError) as exc:
        decide(t, TracerRule(("IMP",)))
    assert exc.value.code == ErrorCode.TRACER_NOT_COVERED
    assert "radionuclide Tc-99m" in exc.value.message and "IMP (I-123)" in exc.value.message


def test_an_unstated_tracer_is_assumed_with_a_warning_or_rejected_by_policy() -> None:
    match, warnings = decide(TracerId(), TracerRule(("ECD", "IMP")))
    assert match == "ECD" and warnings == ["the header does not state the tracer; assumed ECD as the normal "
                                           "database requires."]
    with pytest.raises(SpectSSPError) as exc:
        decide(TracerId(), TracerRule(("IMP",), unstated="reject"))
    assert exc.value.code == ErrorCode.TRACER_NOT_COVERED


def test_no_check_when_the_database_tracer_is_unknown() -> None:
    assert decide(identify(header(text="ECD")), TracerRule(())) == (None, [])


def test_intake_rejects_a_foreign_tracer_before_reading_pixels(gen, tmp_path, monkeypatch) -> None:
    gen.save(gen.mediso_like(), tmp_path / "mediso.dcm")
    import processor.intake.load as load

    def no_pixels(*a, **k):
        raise AssertionError("pixel data read for a study no database covers")
    monkeypatch.setattr(load, "read_full", no_pixels)
    (r,) = load_series([tmp_path], expected_tracer="IMP")
    assert r.status == "rejected" and r.error.code == ErrorCode.TRACER_NOT_COVERED
    assert "Tc-99m" in r.error.message and "IMP" in r.error.message
    assert r.tracer_id.radionuclide == "Tc-99m" and r.tracer_id.name is None
    assert r.tracer_id.evidence == ("radionuclide code C-163A8 (SNM3) '^99m^Technetium'", "energy window 126-154 keV")


def test_several_databases_each_series_records_its_match(gen, tmp_path) -> None:
    vol = gen.test_volume()
    gen.save(gen.nm_multiframe(vol, gen.Geometry(), seed="imp"), tmp_path / "imp.dcm")
    gen.save(gen.nm_multiframe(vol, gen.Geometry(), seed="ecd", tracer="Tc-99m ECD (Neurolite)"), tmp_path / "ecd.dcm")
    results = load_series([tmp_path], min_slices=8, expected_tracer=["IMP", "ECD"])
    assert sorted((r.status, r.tracer_match) for r in results) == [("ok", "ECD"), ("ok", "IMP")]


def test_a_tracer_read_from_a_description_only_is_a_warning() -> None:
    match, warnings = decide(identify(header(series="Brain ECD SPECT")), TracerRule(("IMP", "ECD")))
    assert match == "ECD" and warnings == ["the radiopharmaceutical fields do not state the tracer; ECD read "
                                           "from the series description 'Brain ECD SPECT'."]
