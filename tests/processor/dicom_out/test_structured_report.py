"""The SR carries algorithm, finding, probabilities, QC, region table and indices."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import highdicom as hd
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from processor.dicom_out import STATS_ONLY_TEXT, write_structured_report
from tests.helpers.dicom import make_source_nm, result

SHA = "0123456789abcdef" * 4


def _write(tmp_path: Path, res: dict[str, Any], sha: str | None = SHA, **kw: Any):  # type: ignore[no-untyped-def]
    src = make_source_nm()
    rec = write_structured_report(src, res, series_uid=generate_uid(), series_number=9903,
                                  out_dir=tmp_path, software_version="0.1.0",
                                  model_card_sha256=sha, **kw)
    return src, rec


def _walk(items: Any):  # type: ignore[no-untyped-def]
    """Yield every content item of an SR content sequence, depth first."""
    for item in items:
        yield item
        yield from _walk(item.get("ContentSequence", []))


def _nums(ds: pydicom.Dataset) -> dict[str, float]:
    out = {}
    for item in _walk(ds.ContentSequence):
        if item.ValueType == "NUM":
            out[item.ConceptNameCodeSequence[0].CodeMeaning + "|"] = float(
                item.MeasuredValueSequence[0].NumericValue)
    return out


def _texts(ds: pydicom.Dataset) -> list[str]:
    return [i.TextValue for i in _walk(ds.ContentSequence) if i.ValueType == "TEXT"]


def _codes(ds: pydicom.Dataset) -> list[tuple[str, str]]:
    return [(i.ConceptNameCodeSequence[0].CodeMeaning, i.ConceptCodeSequence[0].CodeMeaning)
            for i in _walk(ds.ContentSequence) if i.ValueType == "CODE"]


def test_sr_content(tmp_path: Path) -> None:
    src, rec = _write(tmp_path, result())
    ds = pydicom.dcmread(rec.path)
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert ds.SOPClassUID == rec.sop_class_uid == "1.2.840.10008.5.1.4.1.1.88.33"
    assert ds.StudyInstanceUID == src.StudyInstanceUID and ds.SeriesNumber == 9903
    assert str(ds.PatientName) == "Müller^Jürgen" and ds.PatientBirthDate == ""
    assert "RESEARCH USE ONLY" in ds.SeriesDescription
    assert ds.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    nums = _nums(ds)
    assert nums["Probability of AD pattern|"] == pytest.approx(0.21)
    assert nums["Probability of DLB pattern|"] == pytest.approx(0.67)
    assert nums["Probability of NC pattern|"] == pytest.approx(0.12)
    assert nums["Registration QC score|"] == pytest.approx(0.962)
    assert nums["Cingulate island sign score|"] == pytest.approx(0.31)
    assert nums["3D-SSP severity index|"] == pytest.approx(1.93)
    assert ("Finding", "Dementia with Lewy bodies perfusion pattern") in _codes(ds)
    assert ("Registration QC passed", "Yes") in _codes(ds)
    texts = _texts(ds)
    assert "alexnet-imp" in texts and "1.2" in texts
    assert f"model card sha256: {SHA}" in texts
    assert any("RESEARCH USE ONLY - NOT FOR DIAGNOSIS" in t for t in texts)
    assert "transform: rigid+affine+syn" in texts
    evidence = ds.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == src.StudyInstanceUID
    series = evidence.ReferencedSeriesSequence[0]
    assert series.SeriesInstanceUID == src.SeriesInstanceUID
    assert series.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == src.SOPInstanceUID
    assert rec.path.name == f"SR_{rec.sop_instance_uid}.dcm"


def test_sr_region_table(tmp_path: Path) -> None:
    _, rec = _write(tmp_path, result())
    ds = pydicom.dcmread(rec.path)
    table: dict[str, dict[str, float]] = {}
    for group in _walk(ds.ContentSequence):
        if group.ValueType != "CONTAINER" or group.ConceptNameCodeSequence[0].CodeValue != "125007":
            continue
        children = list(group.get("ContentSequence", []))
        sites = [c.ConceptCodeSequence[0].CodeMeaning for c in children
                 if c.ValueType == "CODE" and c.ConceptNameCodeSequence[0].CodeMeaning == "Finding Site"]
        if not sites:
            continue
        values = {c.ConceptNameCodeSequence[0].CodeMeaning: float(c.MeasuredValueSequence[0].NumericValue)
                  for c in children if c.ValueType == "NUM"}
        table[sites[0]] = values
    assert set(table) == {"Occipital_L", "Posterior cingulate gyrus", "Precuneus_R"}
    assert table["Occipital_L"]["Z-score"] == pytest.approx(2.41)
    assert table["Occipital_L"]["Extent of surface with Z-score above threshold"] == pytest.approx(37.5)
    assert table["Posterior cingulate gyrus"]["Z-score"] == pytest.approx(0.35)


def test_sr_reads_back_with_highdicom(tmp_path: Path) -> None:
    _, rec = _write(tmp_path, result())
    sr = hd.sr.srread(rec.path)
    assert isinstance(sr, hd.sr.ComprehensiveSR)
    groups = sr.content.get_image_measurement_groups()
    probs = {}
    for g in groups:
        for m in g.get_measurements():
            if m.name.meaning.startswith("Probability of"):
                probs[m.name.meaning] = m.value
                assert m.unit.value == "1"
    assert probs == pytest.approx({"Probability of AD pattern": 0.21, "Probability of DLB pattern": 0.67,
                                   "Probability of NC pattern": 0.12})
    devices = sr.content.get_observer_contexts()
    assert devices, "the observer device context (this software) is present"
    assert len(groups) == 1 + 1 + 3 + 1  # classification, registration, 3 regions, indices


def test_statistics_only_and_bad_numbers(tmp_path: Path) -> None:
    res = result(classification={"label": None, "probabilities": {}, "model": None})
    res["regions"]["Precuneus_R"]["extent_pct"] = float("nan")
    _, rec = _write(tmp_path, res, sha=None)
    ds = pydicom.dcmread(rec.path)
    assert ("Finding", "Statistics only: no model configured") in _codes(ds)
    assert any(STATS_ONLY_TEXT in t for t in _texts(ds))
    assert not any(k.startswith("Probability") for k in _nums(ds))
    assert not any("model card" in t for t in _texts(ds))
    assert any("Precuneus_R" in w and "not finite" in w for w in rec.warnings)


@pytest.mark.integration
@pytest.mark.parametrize("variant", ["model", "statistics-only"])
def test_sr_passes_dciodvfy(tmp_path: Path, variant: str, dciodvfy) -> None:  # type: ignore[no-untyped-def]
    res = result() if variant == "model" else result(classification=None, indices={})
    _, rec = _write(tmp_path, res)
    assert dciodvfy(rec.path) == []


def test_extra_evidence_is_referenced(tmp_path: Path) -> None:
    other = make_source_nm()
    src = make_source_nm(study_uid=other.StudyInstanceUID)
    other.SeriesInstanceUID = src.SeriesInstanceUID
    rec = write_structured_report(src, result(), series_uid=generate_uid(), series_number=9903,
                                  out_dir=tmp_path, software_version="0.1.0", model_card_sha256=None,
                                  evidence=[src, other])
    ds = pydicom.dcmread(rec.path)
    refs = ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence
    assert {r.ReferencedSOPInstanceUID for r in refs} == {src.SOPInstanceUID, other.SOPInstanceUID}


@pytest.mark.parametrize("flagged", [True, False])
def test_sr_states_the_atypicality_check(tmp_path: Path, flagged: bool) -> None:
    res = result()
    res["classification"] = dict(res["classification"], label="indeterminate" if flagged else "DLB",
                                 atypical={"distance": 41.2345, "threshold": 38.139, "flagged": flagged})
    _, rec = _write(tmp_path, res)
    ds = pydicom.dcmread(rec.path)
    word = "yes" if flagged else "no"
    assert f"Atypical for this normal database: {word} (distance 41.234, threshold 38.139)" in _texts(ds)
    assert ("Atypical for this normal database", "Yes" if flagged else "No") in _codes(ds)
    assert not any("atypicality" in w for w in rec.warnings)


def test_sr_without_the_check_has_no_atypicality_item(tmp_path: Path) -> None:
    _, rec = _write(tmp_path, result())
    ds = pydicom.dcmread(rec.path)
    assert not any("Atypical" in t for t in _texts(ds))
    assert not any(name.startswith("Atypical") for name, _ in _codes(ds))
    bad = result()
    bad["classification"] = dict(bad["classification"], atypical={"distance": "far", "flagged": True})
    _, rec = _write(tmp_path / "bad", bad)
    assert not any("Atypical" in t for t in _texts(pydicom.dcmread(rec.path)))
    assert any("atypicality" in w for w in rec.warnings)


def test_sr_names_the_normal_database_and_the_study_tracer(tmp_path: Path) -> None:
    res = result(normal_database={"path": "/site/ecd-2026.ndb", "n": 31, "tracer": "ECD", "sha256": "00ff" * 4},
                 tracer={"name": "ECD", "radionuclide": "Tc-99m", "evidence": ["radiopharmaceutical 'Neurolite'"]})
    _, rec = _write(tmp_path, res)
    texts = _texts(pydicom.dcmread(rec.path))
    assert ("Normal database: ECD, N=31, ecd-2026.ndb, sha256 00ff00ff00ff00ff; study tracer: ECD") in texts
