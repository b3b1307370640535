"""Comprehensive SR (TID 1500 Measurement Report) with the findings of one study.

The SR makes the numbers machine-readable in the PACS next to the SC pictures: algorithm and
model card, the classification with its probabilities (or that no model was configured),
registration QC, the regional Z table and the indices, with the source series as evidence.
Concepts without a standard code use the local scheme ``99SPECTSSP``, declared in the
Coding Scheme Identification Sequence.
"""
from __future__ import annotations

import hashlib
import logging
import math
import re
from pathlib import Path
from typing import Any, Sequence

import highdicom as hd
from highdicom.coding_schemes import CodingSchemeIdentificationItem
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import ComprehensiveSRStorage, ExplicitVRLittleEndian, generate_uid

from processor.dicom_out.common import (
    MANUFACTURER, RUO_TEXT, SOFTWARE_NAME, OutputRecord, atomic_save, check_uid, output_path,
    spectssp_equipment,
)
from processor.dicom_out.sanitize import clean_text, sanitize_reference

logger = logging.getLogger(__name__)

LOCAL = "99SPECTSSP"
CLASSES = ("AD", "DLB", "NC")
STATS_ONLY_TEXT = "statistics only: no model configured"
SERIES_DESCRIPTION = "3D-SSP and CNN findings (SR) - RESEARCH USE ONLY"
_QUALITATIVE_EVALUATIONS = Code("C0034375", "UMLS", "Qualitative Evaluations")
_Z_UNIT = Code("{Z-score}", "UCUM", "Z-score")
_NO_UNIT = codes.UCUM.NoUnits
_PERCENT = codes.UCUM.Percent
# The device UID names this software as observer; stable across runs and versions.
_DEVICE_UID = generate_uid(entropy_srcs=["spectssp observer device"])


def _local(value: str, meaning: str) -> Code:
    return Code(value, LOCAL, meaning)


LABEL_CODES: dict[str, Code] = {
    "AD": _local("AD", "Alzheimer disease perfusion pattern"),
    "DLB": _local("DLB", "Dementia with Lewy bodies perfusion pattern"),
    "NC": _local("NC", "Normal perfusion pattern"),
    "indeterminate": codes.SCT.Indeterminate,
}
STATS_ONLY_CODE = _local("STATS_ONLY", "Statistics only: no model configured")
PROBABILITY_CODES = {c: _local(f"P_{c}", f"Probability of {c} pattern") for c in CLASSES}
CLASSIFICATION = _local("CLASS", "Perfusion pattern classification")
ATYPICAL = _local("ATYPICAL", "Atypical for this normal database")
REG_QC = _local("REG_QC", "Registration QC score")
REG_PASSED = _local("REG_QC_PASS", "Registration QC passed")
REG_GROUP = _local("REG", "Registration to template")
# Where the QC score stands among the normal database's members kept after the QC outlier rule
# (a database built before the rule still counts its outliers in N; code meanings <= 64 characters)
REG_QC_MEMBERS = {
    "min": _local("REG_QC_NDB_MIN", "Registration QC score, normal database kept members' minimum"),
    "max": _local("REG_QC_NDB_MAX", "Registration QC score, normal database kept members' maximum"),
    "percentile": _local("REG_QC_NDB_PCT", "Registration QC score percentile among kept database members"),
    "reject_below": _local("REG_QC_REJECT", "Registration QC score rejected below"),
}
FWHM_ESTIMATED = _local("FWHM_EST", "Estimated effective resolution (FWHM)")
FWHM_HARMONISED = _local("FWHM_TARGET", "Harmonised resolution (FWHM) of the statistics")
REGION_GROUP = _local("VOI_Z", "Regional 3D-SSP Z-score statistics")
EXTENT_PCT = _local("EXTENT_PCT", "Extent of surface with Z-score above threshold")
INDICES_GROUP = _local("INDICES", "3D-SSP indices")
INDEX_CODES = {
    "severity": _local("SEVERITY", "3D-SSP severity index"),
    "extent": _local("EXTENT", "3D-SSP extent index"),
    "ratio": _local("RATIO", "3D-SSP ratio index"),
    "ciscore": _local("CISCORE", "Cingulate island sign score"),
}


def write_structured_report(
    source: Dataset,
    result: dict[str, Any],
    *,
    series_uid: str,
    series_number: int,
    out_dir: Path,
    software_version: str,
    model_card_sha256: str | None,
    evidence: Sequence[Dataset] = (),
    instance_number: int = 1,
    normal_database_sha256: str | None = None,
) -> OutputRecord:
    """Write the findings in ``result`` (the result.json contract) as a Comprehensive SR.

    ``source`` is one instance of the analysed series (patient, study and evidence);
    ``evidence`` may add the other instances of that series. Values that cannot be encoded
    (missing, NaN) are left out and listed in the record's ``warnings``. The algorithm
    parameters name the model card's hash and the normal database's (``normal_database_sha256``,
    else result.json ``normal_database.sha256``): which Z maps and which classifier made it.
    """
    check_uid(series_uid, "series_uid")
    ref, warnings = sanitize_reference(source)
    if not (ref.get("SOPInstanceUID") and ref.get("SOPClassUID") and ref.get("SeriesInstanceUID")):
        raise ValueError("source must carry valid SOPClassUID, SOPInstanceUID and "
                         "SeriesInstanceUID: the SR references it as evidence.")
    sop_uid = str(hd.UID())
    ndb_sha = normal_database_sha256 or (result.get("normal_database") or {}).get("sha256")
    groups = [_classification_group(result, software_version, model_card_sha256, warnings, ndb_sha)]
    groups += _registration_group(result, software_version, warnings)
    groups += _region_groups(result, warnings)
    groups += _indices_group(result, warnings)

    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=_DEVICE_UID, name=SOFTWARE_NAME, manufacturer_name=MANUFACTURER,
            model_name=f"{SOFTWARE_NAME} {software_version}"[:64]),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.cid100.SPECTBrain,
        imaging_measurements=groups,
    )
    report[0].ContentSequence.append(_comment_container(result))

    sr = hd.sr.ComprehensiveSR(
        evidence=[ref, *_evidence_refs(evidence, ref, warnings)],
        content=report[0],
        series_instance_uid=series_uid,
        series_number=int(series_number),
        sop_instance_uid=sop_uid,
        instance_number=int(instance_number),
        manufacturer=MANUFACTURER,
        is_complete=True,
        is_final=False,
        is_verified=False,
        transfer_syntax_uid=ExplicitVRLittleEndian,
        contributing_equipment=[spectssp_equipment(software_version, "3D-SSP statistics and CNN classification")],
        coding_schemes=[CodingSchemeIdentificationItem(
            designator=LOCAL, name="spectssp local codes",
            responsible_organization=MANUFACTURER)],
        series_description=SERIES_DESCRIPTION,
        manufacturer_model_name=SOFTWARE_NAME,
        software_versions=str(software_version)[:64],
    )
    path = output_path(out_dir, "SR", sop_uid)
    atomic_save(sr, path, ref.StudyInstanceUID)
    logger.info("study %s: wrote SR %s", ref.StudyInstanceUID, path.name)
    return OutputRecord(kind="sr", path=path, sop_class_uid=str(ComprehensiveSRStorage),
                        sop_instance_uid=sop_uid, series_uid=series_uid, warnings=warnings)


def _number(value: Any, what: str, warnings: list[str]) -> float | None:
    """A finite float, or None with a warning (SR numeric values must be finite)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        warnings.append(f"{what} is not a number and was left out of the SR")
        return None
    if not math.isfinite(number):
        warnings.append(f"{what} is not finite and was left out of the SR")
        return None
    return number


def _tracking(identifier: str) -> hd.sr.TrackingIdentifier:
    return hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=clean_text(identifier, "LO"))


def _classification_group(result: dict[str, Any], software_version: str,
                          model_card_sha256: str | None, warnings: list[str],
                          normal_database_sha256: str | None = None
                          ) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    cls = result.get("classification") or {}
    label = cls.get("label")
    model = cls.get("model")
    if model:
        name, _, version = str(model).partition("@")
    else:
        name, version = f"{SOFTWARE_NAME} statistics", str(software_version)
    params = [f"software: {SOFTWARE_NAME} {software_version}"]
    if model_card_sha256:
        params.append(f"model card sha256: {model_card_sha256}")
    if normal_database_sha256:
        params.append(f"normal database sha256: {normal_database_sha256}")
    refs = result.get("reference_regions") or []
    if refs:
        params.append("reference regions: " + ", ".join(str(r) for r in refs))
    algorithm = hd.sr.AlgorithmIdentification(
        name=clean_text(name, "LO") or SOFTWARE_NAME, version=clean_text(version or "unknown", "LO"),
        parameters=params)
    if model and label in LABEL_CODES:
        finding = LABEL_CODES[label]
    elif model:
        warnings.append("classification label is missing or unknown; reported as indeterminate")
        finding = LABEL_CODES["indeterminate"]
    else:
        finding = STATS_ONLY_CODE
    measurements = []
    probabilities = cls.get("probabilities") or {} if model else {}
    for c in CLASSES:
        p = _number(probabilities.get(c), f"probability of {c}", warnings) if c in probabilities else None
        if p is not None:
            measurements.append(hd.sr.Measurement(
                name=PROBABILITY_CODES[c], value=p, unit=_NO_UNIT, algorithm_id=algorithm))
    evaluations = [hd.sr.QualitativeEvaluation(name=codes.DCM.Finding, value=finding)]
    atypical = _atypical(cls, warnings) if model else None
    if atypical is not None:
        evaluations.append(hd.sr.QualitativeEvaluation(
            name=ATYPICAL, value=codes.SCT.Yes if atypical["flagged"] else codes.SCT.No))
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking("classification"),
        finding_type=CLASSIFICATION,
        algorithm_id=algorithm,
        measurements=measurements or None,
        qualitative_evaluations=evaluations,
    )


def _atypical(cls: dict[str, Any], warnings: list[str] | None = None) -> dict[str, Any] | None:
    """``classification.atypical`` when the model has the check and it is well formed (a
    malformed one is left out, with a warning when ``warnings`` is given)."""
    a = cls.get("atypical")
    if a is None:
        return None
    if (isinstance(a, dict) and isinstance(a.get("flagged"), bool)
            and all(isinstance(a.get(k), (int, float)) and not isinstance(a.get(k), bool) and math.isfinite(a[k])
                    for k in ("distance", "threshold"))):
        return a
    if warnings is not None:
        warnings.append("the atypicality check's result is malformed and was left out of the SR")
    return None


def atypical_text(atypical: dict[str, Any]) -> str:
    """The SR's sentence on the atypicality check."""
    return (f"Atypical for this normal database: {'yes' if atypical['flagged'] else 'no'} "
            f"(distance {atypical['distance']:.3f}, threshold {atypical['threshold']:.3f})")


def _registration_group(result: dict[str, Any], software_version: str, warnings: list[str]
                        ) -> list[hd.sr.MeasurementsAndQualitativeEvaluations]:
    reg = result.get("registration") or {}
    if not reg:
        return []
    params = [f"transform: {reg['transform']}"] if reg.get("transform") else []
    if reg.get("template") in ("site", "bundled"):
        params.append(f"template: {reg['template']}")
    algorithm = hd.sr.AlgorithmIdentification(
        name=f"{SOFTWARE_NAME} registration", version=str(software_version)[:64], parameters=params or None)
    qc = _number(reg.get("qc"), "registration QC", warnings)
    measurements = [hd.sr.Measurement(name=REG_QC, value=qc, unit=_NO_UNIT)] if qc is not None else []
    members = reg.get("qc_members") if isinstance(reg.get("qc_members"), dict) else {}
    for key, code in REG_QC_MEMBERS.items():   # where the QC value stands among the members
        v = _number(members.get(key), f"registration QC members' {key}", warnings) if key in members else None
        if v is not None:
            measurements.append(hd.sr.Measurement(name=code, value=v, unit=_PERCENT if key == "percentile" else _NO_UNIT))
    res = result.get("resolution") or {}
    for code, key in ((FWHM_ESTIMATED, "estimated_fwhm_mm"), (FWHM_HARMONISED, "target_fwhm_mm")):
        mm = _number(res.get(key), f"resolution {key}", warnings) if key in res else None
        if mm is not None:
            measurements.append(hd.sr.Measurement(name=code, value=mm, unit=codes.UCUM.Millimeter))
    measurements = measurements or None
    evaluations = None
    if isinstance(reg.get("passed"), bool):
        evaluations = [hd.sr.QualitativeEvaluation(
            name=REG_PASSED, value=codes.SCT.Yes if reg["passed"] else codes.SCT.No)]
    return [hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking("registration"), finding_type=REG_GROUP,
        algorithm_id=algorithm, measurements=measurements, qualitative_evaluations=evaluations)]


def voi_code(name: str) -> Code:
    """A stable local code for a VOI name (code values are at most 16 characters)."""
    text = clean_text(str(name), "LO") or "unnamed"
    if re.fullmatch(r"[A-Za-z0-9_.\-]{1,16}", text):
        value = text
    else:
        digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:6]
        value = re.sub(r"[^A-Za-z0-9]", "", text)[:9] + "_" + digest
    return _local(value, text)


def _region_groups(result: dict[str, Any], warnings: list[str]
                   ) -> list[hd.sr.MeasurementsAndQualitativeEvaluations]:
    out = []
    for name, stats in (result.get("regions") or {}).items():
        stats = stats or {}
        measurements = []
        mean_z = _number(stats.get("mean_z"), f"mean Z of {name}", warnings)
        if mean_z is not None:
            measurements.append(hd.sr.Measurement(
                name=codes.DCM.ZScore, value=mean_z, unit=_Z_UNIT, derivation=codes.SCT.Mean))
        extent = _number(stats.get("extent_pct"), f"extent of {name}", warnings)
        if extent is not None:
            measurements.append(hd.sr.Measurement(name=EXTENT_PCT, value=extent, unit=_PERCENT))
        if not measurements:
            continue
        out.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=_tracking(f"region {name}"), finding_type=REGION_GROUP,
            finding_sites=[hd.sr.FindingSite(anatomic_location=voi_code(name))],
            measurements=measurements))
    return out


def _indices_group(result: dict[str, Any], warnings: list[str]
                   ) -> list[hd.sr.MeasurementsAndQualitativeEvaluations]:
    indices = result.get("indices") or {}
    measurements = []
    for key, code in INDEX_CODES.items():
        value = _number(indices.get(key), f"index {key}", warnings)
        if value is not None:
            measurements.append(hd.sr.Measurement(name=code, value=value, unit=_NO_UNIT))
    if not measurements:
        return []
    return [hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking("indices"), finding_type=INDICES_GROUP,
        measurements=measurements)]


def _comment_container(result: dict[str, Any]) -> hd.sr.ContainerContentItem:
    """TID 1500 'Qualitative Evaluations' with the research-use notice and a summary line."""
    cls = result.get("classification") or {}
    if cls.get("model"):
        summary = f"Classification: {cls.get('label', 'indeterminate')}"
    else:
        summary = f"Classification: {STATS_ONLY_TEXT}"
    container = hd.sr.ContainerContentItem(
        name=_QUALITATIVE_EVALUATIONS, relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)
    items = [hd.sr.TextContentItem(name=codes.DCM.Comment, value=f"{RUO_TEXT}. {summary}.",
                                   relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)]
    atypical = _atypical(cls) if cls.get("model") else None
    if atypical is not None:
        items.append(hd.sr.TextContentItem(name=codes.DCM.Comment, value=atypical_text(atypical),
                                           relationship_type=hd.sr.RelationshipTypeValues.CONTAINS))
    if database_text(result):
        items.append(hd.sr.TextContentItem(name=codes.DCM.Comment, value=database_text(result),
                                           relationship_type=hd.sr.RelationshipTypeValues.CONTAINS))
    container.ContentSequence = hd.sr.ContentSequence(items)
    return container


def database_text(result: dict[str, Any]) -> str | None:
    """Which normal database the Z maps are against (several may be configured, one per tracer)."""
    db = result.get("normal_database") or {}
    if not db:
        return None
    tracer = result.get("tracer") or {}
    seen = tracer.get("name") or tracer.get("radionuclide") or "not stated"
    return clean_text(f"Normal database: {db.get('tracer')}, N={db.get('n')}, {Path(str(db.get('path'))).name}, "
                      f"sha256 {db.get('sha256')}; study tracer: {seen}", "UT")


def _evidence_refs(evidence: Sequence[Dataset], ref: Dataset, warnings: list[str]) -> list[Dataset]:
    """Minimal UID-only datasets for extra evidence; invalid or duplicate UIDs are skipped."""
    seen = {ref.SOPInstanceUID}
    out = []
    for ds in evidence:
        item = Dataset()
        try:
            for kw in ("StudyInstanceUID", "SeriesInstanceUID", "SOPClassUID", "SOPInstanceUID"):
                value = str(getattr(ds, kw))
                check_uid(value, kw)
                setattr(item, kw, value)
        except (AttributeError, ValueError):
            warnings.append("an evidence instance had missing or invalid UIDs and was not referenced")
            continue
        if item.SOPInstanceUID in seen:
            continue
        seen.add(item.SOPInstanceUID)
        out.append(item)
    return out


__all__ = ["write_structured_report", "voi_code", "STATS_ONLY_TEXT"]
