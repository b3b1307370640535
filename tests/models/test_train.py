"""End to end on a small separable set: simulate -> train (CLI) -> load -> classify -> evaluate.

CI runs this so the training code cannot rot: a tiny network must learn clearly above chance.
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from models import CLASSES
from models.inference import load_classifier

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, small_ndb):
    from processor.cli.main import main
    root = tmp_path_factory.mktemp("train")
    ndb_path = root / "syn.ndb"
    small_ndb.save(ndb_path)
    out = root / "model"
    rc = main(["train", "--normaldb", str(ndb_path), "--out", str(out), "--protocol", "paper", "--network", "tiny",
               "--images-per-class", "30", "--validation-per-class", "6", "--image-size", "64", "--repeats", "2",
               "--epochs", "20", "--patience", "6", "--threads", "1", "--device", "cpu",
               "--cache-dir", str(root / "cache"), "--no-progress"])
    assert rc == 0
    return root, ndb_path, out


def test_tiny_model_learns_and_card_is_complete(trained):
    _, _, out = trained
    card = json.loads((out / "model.json").read_text())
    val = card["metrics"]["validation"]["accuracy"]
    assert val["n"] == 2 and val["mean"] >= 0.7          # chance is 0.33
    assert card["metrics"]["training"]["accuracy"]["mean"] >= 0.7
    for key in ("architecture", "classes", "input", "inference", "normal_database", "protocol", "data",
                "metrics", "created", "intended_use", "weights"):
        assert key in card
    assert "RESEARCH USE ONLY" in card["intended_use"]
    assert card["protocol"] == "paper" and card["classes"] == list(CLASSES)
    assert card["data"]["counts"]["validation"] == {"AD": 6, "DLB": 6, "NC": 6}
    assert (out / "curves.png").stat().st_size > 1000
    assert [w["file"] for w in card["weights"]] == ["repeat_00.pt", "repeat_01.pt"]


def test_classifier_on_ssp_result(trained, atlas, small_ndb):
    from models.inference import load_classifier
    from models.simulate import lower_counts, member_volume, paper_regions, reduction_map
    from atlas.analysis import SSPAnalyser
    _, _, out = trained
    clf = load_classifier(out, "cpu")
    card = json.loads((out / "model.json").read_text())
    k = card["data"]["validation_members"][0]              # a member the network never saw
    analyser = SSPAnalyser(atlas, small_ndb.without(k), 13.5, 2.0)
    vol = lower_counts(member_volume(small_ndb, atlas, k), reduction_map(atlas, paper_regions("AD", 0.3), 0.0))
    p = clf.predict_ssp(atlas.surface, analyser.analyse(vol))
    res = p.classification(0.0)
    assert res.model == clf.tag and list(res.probabilities) == ["AD", "DLB", "NC"]
    assert res.label == "AD" == res.top
    assert sum(res.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    assert p.classification(1.01).label == "indeterminate" and p.classification(1.01).top == "AD"
    assert p.member_probabilities.shape == (2, 3)
    assert p.composite.shape == (64, 64, 3) and p.gradcam_rgb.shape == (64, 64, 3)
    assert p.gradcam_rgb.dtype == np.uint8 and not np.array_equal(p.gradcam_rgb, p.composite)
    assert len(clf.card_sha256) == 64 and clf.name == card["name"]


def test_evaluate_cli_writes_table1(trained, tmp_path):
    from processor.cli.main import main
    root, ndb_path, out = trained
    rc = main(["evaluate", "--model", str(out), "--out", str(tmp_path / "eval"), "--no-progress"])
    assert rc == 0
    rep = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert set(rep["sets"]) == {"training", "validation"}
    assert rep["sets"]["validation"]["n"] == 18 and rep["repeats"] == 2
    card = json.loads((out / "model.json").read_text())
    for which in ("training", "validation"):       # the check's flags, counted as the card's rates
        r = rep["sets"][which]
        assert r["atypical"] == round(card["atypicality"]["flag_rate"][which] * r["n"])
    md = (tmp_path / "eval" / "report.md").read_text()
    assert "| set | metric | AD | DLB | NC | accuracy |" in md and "0.52+-0.12" in md
    assert (tmp_path / "eval" / "confusion.png").is_file() and (tmp_path / "eval" / "gradcam_gallery.png").is_file()


def _tampered_copy_is_refused(model_dir, tmp_path, file_name: str) -> None:
    """A copy of ``model_dir`` with one byte appended to ``file_name`` must not load."""
    copy = tmp_path / "m"
    shutil.copytree(model_dir, copy)
    with open(copy / file_name, "ab") as fh:
        fh.write(b"x")
    with pytest.raises(ValueError, match="sha256"):
        load_classifier(copy, "cpu")


def test_weights_load_check_catches_tampering(trained, tmp_path):
    _, _, out = trained
    _tampered_copy_is_refused(out, tmp_path, "repeat_01.pt")


def test_a_model_trained_on_the_bundled_phantom_database_is_labelled_phantom_trained(trained, tmp_path):
    """Wherever it is stored, a model trained against the bundled phantom database says so in
    its outputs; one trained on another database (a site's) does not."""
    from models import BUNDLED_MODEL_DIR
    from models.inference import is_phantom_trained
    _, _, out = trained
    assert not load_classifier(out, "cpu").phantom_trained
    bundled_sha = json.loads((BUNDLED_MODEL_DIR / "model.json").read_text())["normal_database"]["sha256"]
    copy = tmp_path / "candidate"
    shutil.copytree(out, copy)
    card = json.loads((copy / "model.json").read_text())
    card["normal_database"]["sha256"] = bundled_sha
    (copy / "model.json").write_text(json.dumps(card))
    assert load_classifier(copy, "cpu").phantom_trained
    assert is_phantom_trained(BUNDLED_MODEL_DIR, {})


def test_training_is_reproducible(atlas, small_ndb, tmp_path):
    from models.simulate import SimulationConfig, build_or_load
    from models.train import TrainConfig, train_repeat
    cfg = SimulationConfig.for_protocol("paper", images_per_class=9, validation_per_class=3, image_size=48)
    ds, _ = build_or_load(small_ndb, atlas, cfg, tmp_path, progress=False)
    tc = TrainConfig(network="tiny", repeats=1, epochs=2, patience=5, batch_size=8, threads=1, device="cpu")
    a, ha = train_repeat(ds, tc, 0, progress=False)
    b, hb = train_repeat(ds, tc, 0, progress=False)
    assert ha["train_loss"] == hb["train_loss"]
    for k in a:
        assert torch.equal(a[k], b[k]), k


# -- the CNN combined with the regional model, calibrated on validation --------------------
@pytest.fixture(scope="module")
def combined(trained):
    """The same tiny training (same data set, same seed, so the same CNN repeats) with the
    regional model beside it."""
    from processor.cli.main import main
    root, ndb_path, plain = trained
    out = root / "combined"
    rc = main(["train", "--normaldb", str(ndb_path), "--out", str(out), "--protocol", "paper", "--network", "tiny",
               "--images-per-class", "30", "--validation-per-class", "6", "--image-size", "64", "--repeats", "2",
               "--epochs", "20", "--patience", "6", "--threads", "1", "--device", "cpu",
               "--cache-dir", str(root / "cache"), "--no-progress", "--with-regional-model"])
    assert rc == 0
    return plain, out


def _ssp_of_validation_member(atlas, ndb, card, disease: str = "DLB"):
    from atlas.analysis import SSPAnalyser
    from models.simulate import lower_counts, member_volume, paper_regions, reduction_map
    k = card["data"]["validation_members"][0]
    vol = lower_counts(member_volume(ndb, atlas, k), reduction_map(atlas, paper_regions(disease, 0.2), 0.0))
    return SSPAnalyser(atlas, ndb.without(k), 13.5, 2.0).analyse(vol)


def test_combined_card_records_members_weights_and_calibration(combined):
    plain, out = combined
    card = json.loads((out / "model.json").read_text())
    ens = card["ensemble"]
    cnn, reg = ens["members"]
    assert cnn["model"] == "cnn" and cnn["weights"] == ["repeat_00.pt", "repeat_01.pt"]
    assert reg["model"] == "regional_logreg" and (out / reg["file"]).is_file() and len(reg["sha256"]) == 64
    assert reg["features"] and all(":" in f for f in reg["features"])
    cal = ens["calibration"]
    assert cnn["weight"] == cal["cnn_weight"] and reg["weight"] == pytest.approx(1 - cal["cnn_weight"])
    assert 0.25 <= cal["temperature"] <= 20 and cal["n"] == 18 and cal["fitted_on"] == "simulated validation set"
    v = cal["validation"]
    # the weight is the grid's best validation log-loss and the temperature can only lower it
    assert v["mixture"]["log_loss"] == pytest.approx(min(cal["weight_grid_log_loss"].values()), abs=1e-4)
    assert v["combined"]["log_loss"] <= v["mixture"]["log_loss"] + 1e-4
    assert "CNN" in ens["heat_map"] and set(ens["metrics"]) == {"training", "validation"}
    # the CNN repeats are those of the same training without the option
    plain_card = json.loads((plain / "model.json").read_text())
    assert [w["sha256"] for w in card["weights"]] == [w["sha256"] for w in plain_card["weights"]]
    assert "ensemble" not in plain_card and card["version"] != plain_card["version"]


def test_combined_inference_applies_the_calibration(combined, atlas, small_ndb):
    from models.calibration import combine
    from models.inference import load_classifier
    plain, out = combined
    clf, cnn_only = load_classifier(out, "cpu"), load_classifier(plain, "cpu")
    ssp = _ssp_of_validation_member(atlas, small_ndb, clf.card)
    p, q = clf.predict_ssp(atlas.surface, ssp), cnn_only.predict_ssp(atlas.surface, ssp)
    assert p.probabilities.sum() == pytest.approx(1.0) and (p.probabilities > 0).all()
    assert np.allclose(p.member_probabilities, q.member_probabilities)        # same CNN repeats
    assert not np.allclose(p.probabilities, q.probabilities, atol=1e-4)        # the combination changed them
    cal = clf.card["ensemble"]["calibration"]
    regional = clf.regional.predict_proba(clf._features(tuple(ssp.references))(ssp.z))
    expected = combine(q.probabilities[None], regional, cal["cnn_weight"], cal["temperature"])[0]
    assert np.allclose(p.probabilities, expected)
    assert p.heat.shape == (64, 64) and p.heat_method == "Grad-CAM"            # the CNN's heat map


def test_model_without_the_option_is_the_plain_ensemble_mean(trained, atlas, small_ndb):
    from models.inference import load_classifier
    _, _, plain = trained
    clf = load_classifier(plain, "cpu")
    assert clf.regional is None
    p = clf.predict_ssp(atlas.surface, _ssp_of_validation_member(atlas, small_ndb, clf.card))
    assert np.array_equal(p.probabilities, p.member_probabilities.mean(axis=0))


def test_combined_model_checks_the_regional_file(combined, tmp_path):
    _, out = combined
    _tampered_copy_is_refused(out, tmp_path, "regional_logreg.npz")


def test_evaluate_reports_ece_and_draws_the_reliability_diagram(combined, tmp_path):
    from PIL import Image

    from processor.cli.main import main
    _, out = combined
    rc = main(["evaluate", "--model", str(out), "--out", str(tmp_path / "eval"), "--no-progress"])
    assert rc == 0
    rep = json.loads((tmp_path / "eval" / "report.json").read_text())
    card = json.loads((out / "model.json").read_text())
    val = rep["sets"]["validation"]
    assert val["calibration"]["probabilities"].startswith("combined")
    assert val["calibration"]["ece"] == pytest.approx(card["ensemble"]["calibration"]["validation"]["combined"]["ece"],
                                                      abs=1e-3)
    assert sum(b["n"] for b in val["calibration"]["bins"]) == val["n"] == 18
    assert val["ensemble"]["accuracy"] == pytest.approx(card["ensemble"]["metrics"]["validation"]["accuracy"])
    md = (tmp_path / "eval" / "report.md").read_text()
    assert "expected calibration error" in md and f"| validation | {val['calibration']['probabilities']} |" in md
    img = np.asarray(Image.open(tmp_path / "eval" / "reliability.png").convert("L"))
    assert img.shape[1] >= 700 and img.shape[0] >= 350                     # two panels side by side
    assert (img < 100).mean() > 0.01 and (img > 240).mean() > 0.3           # drawn lines and bars on white
    assert rep["reliability_diagram"] == "reliability.png"


def _card_without(model_dir, tmp_path, *entries: str):
    """A copy of ``model_dir`` whose card lacks ``entries``: a model trained before they existed."""
    copy = tmp_path / "older"
    shutil.copytree(model_dir, copy)
    card = json.loads((copy / "model.json").read_text())
    for e in entries:
        card.pop(e, None)
    (copy / "model.json").write_text(json.dumps(card))
    return copy


def test_a_card_without_ensemble_gives_the_cnn_repeats_mean(combined, atlas, small_ndb, tmp_path):
    """A model without a regional member: its probabilities stay the CNN repeats' mean."""
    _, out = combined
    with_member = load_classifier(out, "cpu")
    clf = load_classifier(_card_without(out, tmp_path, "ensemble"), "cpu")
    assert with_member.regional is not None and clf.regional is None
    ssp = _ssp_of_validation_member(atlas, small_ndb, clf.card, "AD")
    p = clf.predict_ssp(atlas.surface, ssp)
    assert np.array_equal(p.probabilities, p.member_probabilities.mean(axis=0))
    assert not np.allclose(with_member.predict_ssp(atlas.surface, ssp).probabilities, p.probabilities)


def test_bundled_model_is_combined_and_checked(atlas, small_ndb):
    """The bundled model (simulation version 3) carries the regional member and the atypicality check."""
    from models import BUNDLED_MODEL_DIR
    clf = load_classifier(BUNDLED_MODEL_DIR, "cpu")
    assert clf.regional is not None and clf.atypicality is not None
    assert clf.card["data"]["sim_version"] == 3
    p = clf.predict_ssp(atlas.surface, _ssp_of_validation_member(atlas, small_ndb, {"data": {"validation_members": [5]}}))
    assert p.member_probabilities.shape == (3, 3) and p.atypical is not None
    assert p.probabilities.sum() == pytest.approx(1.0, abs=1e-5)


# -- atypical for this database -------------------------------------------------------------
def test_training_writes_the_atypicality_check(trained):
    from models.atypicality import METHOD
    _, _, out = trained
    card = json.loads((out / "model.json").read_text())
    a = card["atypicality"]
    assert a["file"] == "atypicality.npz" and (out / a["file"]).is_file() and len(a["sha256"]) == 64
    assert a["method"] == METHOD and a["quantile"] == 0.99 and a["threshold"] > 0
    assert set(a["flag_rate"]) == {"training", "validation"}
    assert a["flag_rate"]["training"] <= 0.02                     # 1 % by construction, 72 training images
    assert 0 <= a["flag_rate"]["validation"] <= 1
    assert a["n_features"] == len(a["features"]) > 0 and all(":" in f for f in a["features"])
    clf = load_classifier(out, "cpu")
    assert clf.atypicality is not None and clf.atypicality.feature_names == tuple(a["features"])


def test_atypical_study_is_indeterminate_with_its_probabilities_kept(trained, atlas, small_ndb):
    import dataclasses
    _, _, out = trained
    clf = load_classifier(out, "cpu")
    ssp = _ssp_of_validation_member(atlas, small_ndb, clf.card, "AD")
    typical = clf.predict_ssp(atlas.surface, ssp)
    x = clf._features(tuple(ssp.references))(ssp.z)
    assert typical.atypical.distance == round(float(clf.atypicality.distances(x)[0]), 3)
    assert typical.atypical.threshold == round(clf.atypicality.threshold, 3)
    # the same study against a threshold below its distance: flagged, not forced into a class
    clf.atypicality = dataclasses.replace(clf.atypicality, threshold=typical.atypical.distance / 2)
    p = clf.predict_ssp(atlas.surface, ssp)
    res = p.classification(0.0)
    assert res.atypical.flagged and res.label == "indeterminate"
    assert res.top == typical.classification(0.0).top and res.probabilities == typical.classification(0.0).probabilities
    clf.atypicality = dataclasses.replace(clf.atypicality, threshold=typical.atypical.distance * 2)
    res = clf.predict_ssp(atlas.surface, ssp).classification(0.0)
    assert not res.atypical.flagged and res.label == res.top


def test_atypicality_file_is_checked(trained, tmp_path):
    _, _, out = trained
    _tampered_copy_is_refused(out, tmp_path, "atypicality.npz")


def test_a_card_without_atypicality_reports_none(trained, atlas, small_ndb, tmp_path):
    _, _, out = trained
    clf = load_classifier(_card_without(out, tmp_path, "atypicality"), "cpu")
    assert clf.atypicality is None
    p = clf.predict_ssp(atlas.surface, _ssp_of_validation_member(atlas, small_ndb, clf.card, "AD"))
    assert p.atypical is None and p.classification(0.5).atypical is None
