"""Which radiopharmaceutical a series was acquired with, read from every place a header states it.

A normal database is valid only for its tracer: HMPAO and ECD distribute differently from
123I-IMP, and a DaTscan (ioflupane, also 123I) is not a perfusion scan at all. Vendors state the
tracer in free text, in codes, or only through the radionuclide, so :func:`identify` reads, in
this order of trust (docs/tracers.md):

1. the Radiopharmaceutical text and the Radiopharmaceutical Code Sequence (the compound:
   IMP, ECD, HMPAO, ioflupane, FDG; it implies the radionuclide);
2. the Radionuclide Code Sequence (DICOM CID 18 / CID 4020, SNOMED CT and legacy SRT/SNM3
   codes, or its code meaning);
3. the energy window (EnergyWindowRangeSequence): a window that contains the 159 keV
   photopeak of 123I and not the 140 keV one of 99mTc, or the reverse;
4. the Series and Study Description, last, because they are typed by people.

The first source that names the compound gives the name; the first that implies a radionuclide
gives the radionuclide. Every source that says something is kept as evidence, and a source that
implies another radionuclide (or compound) than the decision is a *conflict*: never silently
dropped, it becomes a warning or a rejection by policy (:func:`decide`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from pydicom.dataset import Dataset

from spectssp.errors import ErrorCode, SpectSSPError

I123, TC99M, F18 = "I-123", "Tc-99m", "F-18"

# Short name -> patterns on the upper-cased text where every non-alphanumeric is a space.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "IMP": (r"\bIMP\b", r"IOFETAMIN", r"IODOAMPHETAMIN", r"ISOPROPYL P IODO"),
    "HMPAO": (r"\bHMPAO\b", r"EXAMETAZIM", r"CERETEC"),
    "ECD": (r"\bECD\b", r"BICISAT", r"NEUROLITE", r"ETHYL CYSTEINATE"),
    "FP-CIT": (r"\bFP CIT\b", r"IOFLUPAN", r"DATSCAN"),
    "FDG": (r"\bFDG\b", r"FLUDEOXYGLUCOS", r"FLUORODEOXYGLUCOS"),
}
# The radionuclide each recognised compound is labelled with.
RADIONUCLIDE_OF = {"IMP": I123, "FP-CIT": I123, "HMPAO": TC99M, "ECD": TC99M, "FDG": F18}
# Tracers a brain perfusion normal database can be built for (ioflupane and FDG are other scans).
PERFUSION = ("IMP", "HMPAO", "ECD")

# Radiopharmaceutical codes (CID 25 "Radiopharmaceuticals"). SNOMED CT values and the SRT
# codes they replace, both as pydicom 3.0 ships them (pydicom/sr/_concepts_dict.py and the
# SCT<->SRT table pydicom/sr/_snomed_dict.py, generated from DICOM PS3.16).
_COMPOUND_CODES = {
    "78481003": "IMP", "C-B1108": "IMP",          # Iofetamine I^123^ hydrochloride
    "77313009": "HMPAO", "C-B1223": "HMPAO",      # Technetium Tc^99m^ exametazime
    "766886003": "ECD",                           # Technetium Tc^99m^ bicisate
    "404713008": "ECD", "C-B10C4": "ECD",         # Technetium[99mTc] ethyl cysteinate dimer injection
    "429296007": "FP-CIT", "C-B07EC": "FP-CIT",   # Ioflupane I^123^
    "35321007": "FDG", "C-B1031": "FDG",          # Fluorodeoxyglucose F^18^
}
# Radionuclide codes (CID 18 "Isotopes in Radiopharmaceuticals"; 18F also CID 4020 "PET
# Radionuclide"), same source. SRT codes are written with scheme SRT or the older SNM3.
_NUCLIDE_CODES = {
    "21572004": I123, "C-114A4": I123,            # ^123^Iodine
    "72454006": TC99M, "C-163A8": TC99M,          # ^99m^Technetium
    "77004003": F18, "C-111A1": F18,              # ^18^Fluorine
}
_NUCLIDE_TEXT = {
    I123: (r"\b123 ?IODINE\b", r"\bIODINE ?123\b", r"\bI ?123\b", r"\b123 ?I\b"),
    TC99M: (r"\b99M ?TECHNETIUM\b", r"\bTECHNETIUM ?99M\b", r"\bTC ?99M\b", r"\b99M ?TC\b"),
    F18: (r"\b18 ?FLUORINE\b", r"\bFLUORINE ?18\b", r"\bF ?18\b", r"\b18 ?F\b"),
}
_DESCRIPTIONS = ("series description", "study description")
# Photopeaks (keV) an energy window is matched against.
PHOTOPEAK_KEV = {I123: 159.0, TC99M: 140.5}


@dataclass(frozen=True)
class TracerId:
    """What the header says about the tracer, and from where (``evidence``, most trusted first)."""

    name: str | None = None            # IMP, HMPAO, ECD, FP-CIT, FDG or None
    radionuclide: str | None = None    # I-123, Tc-99m, F-18 or None
    evidence: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    text: str | None = None            # the radiopharmaceutical as written (display)
    decided_by: str | None = None      # the evidence that gave the name (else the radionuclide)

    def as_dict(self) -> dict[str, Any]:
        """The result.json ``tracer`` object."""
        return {"name": self.name, "radionuclide": self.radionuclide, "evidence": list(self.evidence)}

    def label(self) -> str:
        """Short display: ``IMP``, ``Tc-99m`` (compound unknown) or ``-``."""
        return self.name or self.radionuclide or "-"


def _flat(text: str) -> str:
    return " " + re.sub(r"[^A-Z0-9]+", " ", str(text).upper()) + " "


def normalise_tracer(text: str | None) -> str | None:
    """Short tracer name for a free-text or coded name, or None when not recognised."""
    if not text:
        return None
    flat = _flat(text)
    for name, patterns in _SYNONYMS.items():
        if any(re.search(p, flat) for p in patterns):
            return name
    return None


def nuclide_of_text(text: str | None) -> str | None:
    """Radionuclide named in a free text ('^99m^Technetium', 'I-123'), or None."""
    if not text:
        return None
    flat = _flat(text)
    for nuclide, patterns in _NUCLIDE_TEXT.items():
        if any(re.search(p, flat) for p in patterns):
            return nuclide
    return None


def _s(v: Any) -> str:
    return str(v or "").strip()


def _items(ds: Dataset, keyword: str) -> Iterable[Dataset]:
    return ds.get(keyword, None) or []


def _compound_evidence(ds: Dataset) -> Iterable[tuple[str, str]]:
    """(compound, evidence) from the radiopharmaceutical text and code."""
    for item in _items(ds, "RadiopharmaceuticalInformationSequence"):
        text = _s(item.get("Radiopharmaceutical", ""))
        if normalise_tracer(text):
            yield normalise_tracer(text), f"radiopharmaceutical {text!r}"
        for c in _items(item, "RadiopharmaceuticalCodeSequence"):
            value, scheme, meaning = _s(c.get("CodeValue")), _s(c.get("CodingSchemeDesignator")), _s(c.get("CodeMeaning"))
            name = _COMPOUND_CODES.get(value) or normalise_tracer(meaning) or normalise_tracer(value)
            if name:
                yield name, f"radiopharmaceutical code {value} ({scheme}) {meaning!r}".replace(" ''", "")


def _nuclide_evidence(ds: Dataset) -> Iterable[tuple[str, str]]:
    """(radionuclide, evidence) from the Radionuclide Code Sequence: the code, else its meaning."""
    for item in _items(ds, "RadiopharmaceuticalInformationSequence"):
        for c in _items(item, "RadionuclideCodeSequence"):
            value, scheme, meaning = _s(c.get("CodeValue")), _s(c.get("CodingSchemeDesignator")), _s(c.get("CodeMeaning"))
            by_code, by_text = _NUCLIDE_CODES.get(value), nuclide_of_text(meaning)
            where = f"radionuclide code {value} ({scheme}) {meaning!r}".replace(" ''", "")
            if by_code and by_text and by_code != by_text:
                yield by_code, where + f" [the code is {by_code}, its meaning {by_text}]"
                yield by_text, where + " [meaning]"
            elif by_code or by_text:
                yield by_code or by_text, where


def _window_evidence(ds: Dataset) -> Iterable[tuple[str, str]]:
    """(radionuclide, evidence) from each energy window containing exactly one known photopeak."""
    for w in _items(ds, "EnergyWindowInformationSequence"):
        for r in _items(w, "EnergyWindowRangeSequence"):
            try:
                lo, hi = float(r.get("EnergyWindowLowerLimit")), float(r.get("EnergyWindowUpperLimit"))
            except (TypeError, ValueError):
                continue
            inside = [n for n, kev in PHOTOPEAK_KEV.items() if lo <= kev <= hi]
            if len(inside) == 1:
                yield inside[0], f"energy window {lo:g}-{hi:g} keV"


def _description_evidence(ds: Dataset) -> Iterable[tuple[str | None, str | None, str]]:
    """(compound, radionuclide, evidence) from the Series and Study Description."""
    for keyword, what in (("SeriesDescription", "series description"), ("StudyDescription", "study description")):
        text = _s(ds.get(keyword, ""))
        name, nuclide = normalise_tracer(text), nuclide_of_text(text)
        if name or nuclide:
            yield name, nuclide, f"{what} {text!r}"


def identify(ds: Dataset) -> TracerId:
    """Every statement of the tracer in ``ds``, decided in the documented order of trust.

    Never raises: a malformed sequence counts as no statement.
    """
    try:
        return _identify(ds)
    except Exception:  # a malformed sequence is treated as no tracer information
        return TracerId(text=_raw_text(ds))


def _raw_text(ds: Dataset) -> str | None:
    try:
        for item in _items(ds, "RadiopharmaceuticalInformationSequence"):
            for text in (_s(item.get("Radiopharmaceutical", "")),
                         *(_s(c.get("CodeMeaning")) for c in _items(item, "RadiopharmaceuticalCodeSequence"))):
                if text:
                    return text
    except Exception:
        return None
    return None


def _identify(ds: Dataset) -> TracerId:
    names: list[tuple[str, str]] = []      # (compound, evidence), most trusted first
    nuclides: list[tuple[str, str]] = []   # (radionuclide, evidence), most trusted first
    for name, ev in _compound_evidence(ds):
        names.append((name, ev))
        nuclides.append((RADIONUCLIDE_OF[name], ev))
    nuclides += list(_nuclide_evidence(ds))
    nuclides += list(_window_evidence(ds))
    for name, nuclide, ev in _description_evidence(ds):
        if name:
            names.append((name, ev))
        nuclides.append((nuclide or RADIONUCLIDE_OF[name], ev))
    name = names[0][0] if names else None
    nuclide = RADIONUCLIDE_OF[name] if name else (nuclides[0][0] if nuclides else None)
    conflicts = [f"{ev} says {n}, not {name}" for n, ev in names if n != name]
    conflicts += [f"{ev} says {n}, not {nuclide}" for n, ev in nuclides if n != nuclide]
    evidence = list(dict.fromkeys(ev for _, ev in nuclides))   # every source implies a radionuclide
    decided_by = names[0][1] if names else (nuclides[0][1] if nuclides else None)
    return TracerId(name, nuclide, tuple(evidence), tuple(dict.fromkeys(conflicts)), _raw_text(ds), decided_by)


def tracer_of(ds: Dataset) -> tuple[str | None, str | None]:
    """(normalised name or None, raw radiopharmaceutical text or None): :func:`identify`, short."""
    t = identify(ds)
    return t.name, t.text


def radionuclide_of(ds: Dataset) -> str | None:
    """The radionuclide (``I-123``, ``Tc-99m``, ``F-18``) by the order of trust, or None."""
    return identify(ds).radionuclide


@dataclass(frozen=True)
class TracerRule:
    """What the configured normal databases cover and what to do when a study does not fit.

    ``covered`` lists the databases' tracers (short names) in configuration order; empty: no
    check (one database whose tracer is unknown). ``not_covered``, ``unstated`` and ``conflict``
    are the policies ``intake.tracer_policy``, ``intake.tracer_unstated``, ``intake.tracer_conflict``.
    """

    covered: tuple[str, ...] = ()
    not_covered: str = "reject"    # reject | warn
    unstated: str = "assume"       # assume | reject
    conflict: str = "warn"         # warn | reject


def _covered_text(covered: Sequence[str]) -> str:
    parts = [f"{t} ({RADIONUCLIDE_OF[t]})" if t in RADIONUCLIDE_OF else t for t in covered]
    if len(parts) == 1:
        return "the normal database, which is for " + parts[0]
    return "the configured normal databases, which are for " + ", ".join(parts)


def decide(t: TracerId, rule: TracerRule) -> tuple[str | None, list[str]]:
    """(the covered tracer whose database takes the study, or None; warnings), or raise.

    Raises TRACER_NOT_COVERED (a recognised tracer or radionuclide no database covers, an
    unstated tracer under ``unstated: reject``) or TRACER_CONFLICT (``conflict: reject``).
    """
    warnings: list[str] = []
    if t.conflicts:
        text = "the header contradicts itself about the tracer: " + "; ".join(t.conflicts)
        if rule.conflict == "reject":
            raise SpectSSPError(ErrorCode.TRACER_CONFLICT, text + ".")
        warnings.append(f"{text}; decided {t.label()} by the order of trust.")
    if t.decided_by and t.decided_by.startswith(_DESCRIPTIONS):
        what = f"tracer {t.text!r} is not recognised" if t.text else "the radiopharmaceutical fields do not state the tracer"
        warnings.append(f"{what}; {t.label()} read from the {t.decided_by}.")
    covered = list(rule.covered)
    if not covered:
        if not t.name and not warnings:
            warnings.append(f"tracer not recognised ({t.text!r})." if t.text else "tracer not stated in the header.")
        return None, warnings
    if t.name:
        if t.name in covered:
            return t.name, warnings
        what = f"tracer {t.name} ({t.radionuclide})"
        if t.name not in PERFUSION:
            what += ", not a perfusion tracer,"
        return _not_covered(f"{what} is not covered by {_covered_text(covered)}.", covered[0], rule, warnings)
    if t.radionuclide:
        same = [c for c in covered if RADIONUCLIDE_OF.get(c) == t.radionuclide]
        source = next((e for e in t.evidence), "")
        if not same:
            message = (f"the header states the radionuclide {t.radionuclide} ({source}), which is not covered by "
                       f"{_covered_text(covered)}.")
            return _not_covered(message, covered[0], rule, warnings)
        what = f"the header states the radionuclide {t.radionuclide} but not the compound"
        if rule.unstated == "reject":
            raise SpectSSPError(ErrorCode.TRACER_NOT_COVERED, f"{what} (intake.tracer_unstated: reject).")
        warnings.append(f"{what}; assumed {same[0]} as its normal database requires.")
        return same[0], warnings
    what = f"tracer {t.text!r} is not recognised" if t.text else "the header does not state the tracer"
    if rule.unstated == "reject":
        raise SpectSSPError(ErrorCode.TRACER_NOT_COVERED, f"{what} (intake.tracer_unstated: reject).")
    warnings.append(f"{what}; assumed {covered[0]} as the normal database requires.")
    return covered[0], warnings


def _not_covered(message: str, fallback: str, rule: TracerRule, warnings: list[str]) -> tuple[str, list[str]]:
    if rule.not_covered == "reject":
        raise SpectSSPError(ErrorCode.TRACER_NOT_COVERED, message)
    warnings.append(message)
    return fallback, warnings
