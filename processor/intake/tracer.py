"""Which radiopharmaceutical a series was acquired with, normalised to a short name.

A normal database is valid only for its tracer: HMPAO and ECD distribute differently from
123I-IMP, and a DaTscan (ioflupane, also 123I) is not a perfusion scan at all. Scanners spell
the tracer in free text, so synonyms are matched on words of the upper-cased text.
"""
from __future__ import annotations

import re
from typing import Iterable

from pydicom.dataset import Dataset

# Short name -> patterns on the upper-cased text where every non-alphanumeric is a space.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "IMP": (r"\bIMP\b", r"IOFETAMIN", r"IODOAMPHETAMIN", r"ISOPROPYL P IODO"),
    "HMPAO": (r"\bHMPAO\b", r"EXAMETAZIM", r"CERETEC"),
    "ECD": (r"\bECD\b", r"BICISAT", r"NEUROLITE"),
    "FP-CIT": (r"\bFP CIT\b", r"IOFLUPAN", r"DATSCAN"),
    "FDG": (r"\bFDG\b", r"FLUDEOXYGLUCOS", r"FLUORODEOXYGLUCOS"),
}


def normalise_tracer(text: str | None) -> str | None:
    """Short tracer name for a free-text or coded name, or None when not recognised."""
    if not text:
        return None
    flat = " " + re.sub(r"[^A-Z0-9]+", " ", str(text).upper()) + " "
    for name, patterns in _SYNONYMS.items():
        if any(re.search(p, flat) for p in patterns):
            return name
    return None


def _radiopharmaceutical_texts(ds: Dataset) -> Iterable[str]:
    """Every place the radiopharmaceutical module names the tracer."""
    for item in ds.get("RadiopharmaceuticalInformationSequence", None) or []:
        yield str(item.get("Radiopharmaceutical", "") or "")
        for code in item.get("RadiopharmaceuticalCodeSequence", None) or []:
            yield str(code.get("CodeMeaning", "") or "")
            yield str(code.get("CodeValue", "") or "")


def tracer_of(ds: Dataset) -> tuple[str | None, str | None]:
    """(normalised name or None, raw radiopharmaceutical text or None) from the header.

    The radiopharmaceutical module decides; SeriesDescription is only a fallback when that
    module names nothing recognisable (some exports drop it, but keep "DaTscan" in the title).
    """
    raw = None
    try:
        for text in _radiopharmaceutical_texts(ds):
            text = text.strip()
            if not text:
                continue
            raw = raw or text
            name = normalise_tracer(text)
            if name:
                return name, text
        if raw is None:
            return normalise_tracer(str(ds.get("SeriesDescription", "") or "")), None
    except Exception:  # a malformed sequence is treated as no tracer information
        return None, raw
    return None, raw


def radionuclide_of(ds: Dataset) -> str | None:
    """CodeMeaning of the radionuclide (for display and warnings), e.g. '^123^Iodine'."""
    try:
        for item in ds.get("RadiopharmaceuticalInformationSequence", None) or []:
            for code in item.get("RadionuclideCodeSequence", None) or []:
                meaning = str(code.get("CodeMeaning", "") or "").strip()
                if meaning:
                    return meaning
    except Exception:
        return None
    return None
