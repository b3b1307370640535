"""End to end on a small separable set: simulate -> train (CLI) -> load -> classify -> evaluate.

CI runs this so the training code cannot rot: a tiny network must learn clearly above chance.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from models import CLASSES

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
    md = (tmp_path / "eval" / "report.md").read_text()
    assert "| set | metric | AD | DLB | NC | accuracy |" in md and "0.52+-0.12" in md
    assert (tmp_path / "eval" / "confusion.png").is_file() and (tmp_path / "eval" / "gradcam_gallery.png").is_file()


def test_weights_load_check_catches_tampering(trained, tmp_path):
    import shutil

    from models.inference import load_classifier
    _, _, out = trained
    copy = tmp_path / "m"
    shutil.copytree(out, copy)
    with open(copy / "repeat_01.pt", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(ValueError, match="sha256"):
        load_classifier(copy, "cpu")


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
