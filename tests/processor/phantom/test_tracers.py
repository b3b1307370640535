"""The phantom's ECD option: ECD's regional differences from IMP, and a header that states ECD."""
from __future__ import annotations

import numpy as np
import pytest

from atlas import load_atlas
from processor.intake import load_series
from processor.phantom import ScannerOptions, SubjectOptions, make_study, write_study
from processor.phantom.tracers import ECD_VS_IMP


def _voi_mean(act: np.ndarray, atlas, base: str) -> float:
    return float(act[atlas.voi_mask([f"{base}_L", f"{base}_R"])].mean())


def test_ecd_is_the_same_subject_with_ecds_regional_distribution() -> None:
    atlas = load_atlas()
    imp = make_study("NC", 5, 0, atlas=atlas, keep_activity=True, subject=SubjectOptions(deform=False))
    ecd = make_study("NC", 5, 0, atlas=atlas, keep_activity=True, subject=SubjectOptions(deform=False, tracer="ECD"))
    assert (imp.truth["tracer"], ecd.truth["tracer"]) == ("IMP", "ECD") and imp.name != ecd.name
    ratio = {b: _voi_mean(ecd.activity, atlas, b) / _voi_mean(imp.activity, atlas, b)
             for b in ("medial_temporal", "cuneus", "thalamus", "frontal")}
    assert ratio["medial_temporal"] == pytest.approx(ECD_VS_IMP["medial_temporal"], abs=0.04)
    assert ratio["cuneus"] > 1.02 and ratio["thalamus"] < 0.97
    assert ratio["frontal"] == pytest.approx(1.0, abs=0.01)   # not a region that differs


def test_ecd_phantom_header_states_ecd_everywhere(tmp_path) -> None:
    study = make_study("NC", 5, 0, subject=SubjectOptions(tracer="ECD"), scanner=ScannerOptions(matrix=64))
    (r,) = load_series(write_study(study, tmp_path / study.name), expected_tracer=["IMP", "ECD"])
    assert r.ok and r.tracer_match == "ECD" and r.warnings == []
    assert r.tracer_id.as_dict() == {"name": "ECD", "radionuclide": "Tc-99m", "evidence": [
        "radiopharmaceutical 'Bicisate'", "radiopharmaceutical code 766886003 (SCT) 'Technetium Tc^99m^ bicisate'",
        "radionuclide code 72454006 (SCT) '^99m^Technetium'", "energy window 126.45-154.55 keV",
        "series description 'Brain ECD SPECT recon'", "study description 'Brain perfusion SPECT 99mTc-ECD'"]}
