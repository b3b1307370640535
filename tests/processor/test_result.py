"""processor.result: the typed result, its one serialiser, and the published JSON Schema."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from atlas.analysis import Indices, RegionStats, Resolution, Statistics
from models.inference import Classification
from processor.result import (DATA_NOTE, NormalDatabaseInfo, OutputEntry, Registration, Result, ResultError,
                              Status)
from spectssp.errors import ErrorCode, SpectSSPError
from tests.helpers.dicom import result as sr_result
from tests.helpers.results import assert_valid_result, published_schema, result_errors

CONTRACT_ORDER = ["schema", "status", "error", "inputs", "study_instance_uid", "series_instance_uid",
                  "classification", "registration", "resolution", "reference_regions", "regions", "indices",
                  "outputs", "warnings", "timings_s", "software", "normal_database", "note"]


def _ok(tmp_path: Path) -> Result:
    staging, final = tmp_path / ".staging-x", tmp_path / "x"
    stats = Statistics(("GLB", "CBL"), {"parietal_L": RegionStats(2.1, 40.5), "frontal_L": RegionStats(0.2, 1.0)},
                       Indices(1.8, 35.0, 2.4, 0.12), "GLB", Resolution(13.1, 10.2, 16.0))
    r = Result([Path("/in/a.dcm")], "1.2.3", "1.2.3.4", warnings=["w"],
               normal_database=NormalDatabaseInfo("/db.ndb", 40, "123I-IMP", "0123456789abcdef"))
    r.registration = Registration("ANTs SyNRA", 0.93, True, 0.5, "spect")
    r.statistics = stats
    r.classification = Classification("AD", {"AD": 0.7, "DLB": 0.2, "NC": 0.1}, "demo@1")
    r.outputs = [OutputEntry("report", str(staging / "ssp_decrease.png")),
                 OutputEntry("sr", str(staging / "dicom" / "SR_1.dcm"), "1.2.840.10008.5.1.4.1.1.88.33")]
    r.status = Status.OK
    r.timings_s.total = 1.5
    return r.relocated(staging, final)


def test_an_ok_result_serialises_to_the_contract(tmp_path):
    d = assert_valid_result(_ok(tmp_path).as_dict())
    assert list(d) == [*CONTRACT_ORDER, "statistics_reference", "tracer"]
    assert d["status"] == "ok" and d["error"] is None and d["inputs"] == ["/in/a.dcm"]
    assert d["registration"] == {"transform": "ANTs SyNRA", "qc": 0.93, "passed": True, "qc_threshold": 0.5,
                                 "profile": "spect", "template": "bundled"}   # template: additive (issue 15)
    assert d["regions"]["parietal_L"] == {"mean_z": 2.1, "extent_pct": 40.5}
    assert d["indices"] == {"severity": 1.8, "extent": 35.0, "ratio": 2.4, "ciscore": 0.12}
    assert d["resolution"] == {"estimated_fwhm_mm": 13.1, "kernel_fwhm_mm": 10.2, "target_fwhm_mm": 16.0}
    assert d["reference_regions"] == ["GLB", "CBL"] and d["statistics_reference"] == "GLB"
    assert [o["path"] for o in d["outputs"]] == [str(tmp_path / "x" / "ssp_decrease.png"),
                                               str(tmp_path / "x" / "dicom" / "SR_1.dcm")]
    assert d["outputs"][0]["sop_class_uid"] is None
    assert d["timings_s"] == {"read": 0.0, "register": 0.0, "ssp": 0.0, "classify": 0.0, "write": 0.0, "total": 1.5}
    assert d["software"]["name"] == "spectssp" and d["note"] == DATA_NOTE
    assert json.loads(json.dumps(d, allow_nan=False)) == d


def test_a_result_without_stages_is_failed_and_valid():
    r = Result([Path("/in/x.txt")], None, None)
    r.status, r.error = Status.REJECTED, ResultError.of(SpectSSPError(ErrorCode.NOT_DICOM, "not a DICOM file."))
    d = assert_valid_result(r.as_dict())
    assert list(d) == [*CONTRACT_ORDER, "tracer"] and d["tracer"] is None
    assert (d["classification"], d["registration"], d["resolution"]) == (None, None, None)
    assert (d["reference_regions"], d["regions"], d["indices"], d["outputs"]) == ([], {}, {}, [])
    assert d["error"] == {"code": "not_dicom", "message": "not a DICOM file."}
    assert pickle.loads(pickle.dumps(r)).as_dict() == d   # worker processes may send it


def test_qc_image_appears_only_when_set(tmp_path):
    r = Result([tmp_path / "a.dcm"], "1.2", "1.2.3", Status.REJECTED,
               ResultError(ErrorCode.REGISTRATION_FAILED, "QC failed."),
               registration=Registration("t", 0.2, False, 0.5, "spect", str(tmp_path / ".s" / "registration_qc.png")))
    d = assert_valid_result(r.relocated(tmp_path / ".s", tmp_path / "f").as_dict())
    assert d["registration"]["qc_image"] == str(tmp_path / "f" / "registration_qc.png")
    assert "qc_image" not in Result([tmp_path / "a"], None, None, registration=Registration("t", 0.9, True, 0.5, "spect")
                                    ).as_dict()["registration"]


def test_output_kinds_are_the_contracts():
    with pytest.raises(ValueError, match="not one of"):
        OutputEntry("pdf", "/x.pdf")


def test_the_published_schema_is_draft_2020_12_and_open_to_additive_keys(tmp_path):
    schema = published_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    d = _ok(tmp_path).as_dict()
    d["a_future_key"] = 1
    assert not list(Draft202012Validator(schema).iter_errors(d))   # consumers accept it ...
    assert any("a_future_key" in e for e in result_errors(d))       # ... our tests do not


@pytest.mark.parametrize("break_it, where", [
    (lambda d: d.update(status="weird"), "status"),
    (lambda d: d.pop("inputs"), "(top): 'inputs' is a required"),
    (lambda d: d.update(inputs=[]), "inputs"),
    (lambda d: d.pop("timings_s"), "(top): 'timings_s' is a required"),
    (lambda d: d.update(schema="spectssp.result/2"), "schema"),
    (lambda d: d.update(error={"code": "model_error", "message": "x"}), "error"),   # ok with an error
    (lambda d: d.update(status="failed"), "error"),                                  # failed without one
    (lambda d: d["classification"].update(label="maybe"), "classification/label"),
    (lambda d: d["classification"]["probabilities"].pop("NC"), "classification/probabilities"),
    (lambda d: d["outputs"][0].update(kind="pdf"), "outputs/0"),
    (lambda d: d["outputs"][1].pop("sop_class_uid"), "outputs/1"),
    (lambda d: d["registration"].pop("passed"), "registration: 'passed' is a required"),
    (lambda d: d["indices"].pop("ciscore"), "indices: 'ciscore' is a required"),
    (lambda d: d["regions"]["parietal_L"].update(extent_pct=130.0), "regions/parietal_L"),
    (lambda d: d["timings_s"].update(total=-1.0), "timings_s"),
])
def test_the_schema_rejects_a_broken_result(tmp_path, break_it, where):
    d = _ok(tmp_path).as_dict()
    break_it(d)
    problems = result_errors(d)
    assert any(p.startswith(where) for p in problems), problems
    with pytest.raises(AssertionError, match="does not match"):
        assert_valid_result(d)


def test_a_rejected_result_needs_code_and_message():
    d = Result([Path("/x")], None, None, Status.REJECTED, ResultError("not_dicom", "no.")).as_dict()
    assert_valid_result(d)
    d["error"] = {"code": "not_dicom"}
    assert any("message" in p for p in result_errors(d))


def test_the_sr_tests_result_is_a_valid_result():
    assert_valid_result(sr_result())


# -- classification.atypical (additive; only when the model has the check) -----------------
def _atypical_result(tmp_path: Path, flagged: bool = True) -> dict:
    from models.atypicality import Atypicality
    r = _ok(tmp_path)
    r.classification = Classification("indeterminate" if flagged else "AD", {"AD": 0.7, "DLB": 0.2, "NC": 0.1},
                                      "demo@1", Atypicality(41.234, 38.139, flagged))
    return r.as_dict()


def test_atypical_is_serialised_only_when_the_model_has_the_check(tmp_path):
    d = assert_valid_result(_atypical_result(tmp_path))
    assert d["classification"]["atypical"] == {"distance": 41.234, "threshold": 38.139, "flagged": True}
    assert list(d["classification"]) == ["label", "probabilities", "model", "atypical"]
    assert "atypical" not in _ok(tmp_path).as_dict()["classification"]      # no check: result.json as before
    assert_valid_result(_atypical_result(tmp_path, flagged=False))


@pytest.mark.parametrize("break_it, where", [
    (lambda a: a.pop("flagged"), "classification/atypical: 'flagged' is a required"),
    (lambda a: a.update(flagged="yes"), "classification/atypical/flagged"),
    (lambda a: a.update(distance=-1.0), "classification/atypical/distance"),
    (lambda a: a.update(threshold=0), "classification/atypical/threshold"),
    (lambda a: a.update(score=3.0), "classification/atypical"),
])
def test_the_schema_rejects_a_malformed_atypical(tmp_path, break_it, where):
    d = _atypical_result(tmp_path)
    break_it(d["classification"]["atypical"])
    problems = result_errors(d)
    assert any(p.startswith(where) for p in problems), problems


def test_a_flagged_study_must_be_indeterminate(tmp_path):
    d = _atypical_result(tmp_path)
    d["classification"]["label"] = "AD"
    assert any(p.startswith("classification/label") for p in result_errors(d))


def test_hashes_are_an_additive_key_over_contents(tmp_path):
    from processor.config import defaults, processing_sha256, with_threads
    from processor.result import Hashes, inputs_sha256
    a, b = tmp_path / "a.dcm", tmp_path / "b.dcm"
    a.write_bytes(b"one")
    b.write_bytes(b"two")
    assert inputs_sha256([a, b]) != inputs_sha256([b, a]) and inputs_sha256([a]) == inputs_sha256([str(a)])
    assert inputs_sha256([tmp_path / "gone.dcm"]) is None
    cfg = defaults()
    assert processing_sha256(with_threads(cfg, 7)) == processing_sha256(cfg)   # threads: bit level only
    other = with_threads(cfg, 1)
    other.ssp["z_threshold"] = 2.5
    assert processing_sha256(other) != processing_sha256(cfg)
    r = _ok(tmp_path)
    assert "hashes" not in r.as_dict()
    r.hashes = Hashes(inputs_sha256([a]), processing_sha256(cfg), "0" * 64, None)
    d = assert_valid_result(r.as_dict())
    assert list(d)[-1] == "hashes" and d["hashes"]["model"] is None
