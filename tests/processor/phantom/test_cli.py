"""``spectssp phantom`` end to end on a tiny run."""
from __future__ import annotations

import json

from processor.cli.main import main


def test_phantom_command_writes_folders_and_sidecars(tmp_path, capsys):
    rc = main(["phantom", "--out", str(tmp_path), "--label", "AD", "--count", "2", "--seed", "7",
               "--layout", "mixed", "--matrix", "64", "--severity", "0.2", "0.3", "--variant", "typical"])
    assert rc == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["AD_7_0", "AD_7_0.truth.json", "AD_7_1", "AD_7_1.truth.json"]
    for n in (0, 1):
        truth = json.loads((tmp_path / f"AD_7_{n}.truth.json").read_text())
        assert truth["label"] == "AD" and truth["variant"] == "typical"
        assert 0.2 <= truth["severity"] <= 0.3 and truth["scanner"]["matrix"] == 64
        files = list((tmp_path / f"AD_7_{n}").iterdir())
        assert all(f.suffix == ".dcm" for f in files)
        assert len(files) == (1 if truth["layout"] == "multiframe" else 64)


def test_phantom_command_rejects_bad_severity(tmp_path, capsys):
    rc = main(["phantom", "--out", str(tmp_path), "--label", "NC", "--severity", "0.4", "0.2"])
    assert rc == 2
    assert "--severity" in capsys.readouterr().err


def test_phantom_command_makes_world_a_dlb_literature_variants_for_dlb_only(tmp_path, capsys):
    rc = main(["phantom", "--out", str(tmp_path / "dlb"), "--label", "DLB", "--seed", "3", "--matrix", "64",
               "--variant", "occipital_spared_v1"])
    assert rc == 0
    truth = json.loads((tmp_path / "dlb" / "DLB_3_0.truth.json").read_text())
    r = truth["regions"]
    assert truth["variant"] == "occipital_spared_v1"
    assert r["cuneus_L"] <= 0.3 * truth["severity"] < r["middle_occipital_L"]   # V1 spared, lateral not
    rc = main(["phantom", "--out", str(tmp_path / "ad"), "--label", "AD", "--variant", "no_cingulate_island"])
    assert rc == 2 and not (tmp_path / "ad").exists()
    assert "not a world A AD variant" in capsys.readouterr().err


def test_phantom_command_makes_world_a_early_ad_for_ad_only(tmp_path, capsys):
    rc = main(["phantom", "--out", str(tmp_path / "ad"), "--label", "AD", "--seed", "3", "--matrix", "64",
               "--variant", "early"])
    assert rc == 0
    truth = json.loads((tmp_path / "ad" / "AD_3_0.truth.json").read_text())
    assert truth["variant"] == "early"
    assert {n.rsplit("_", 1)[0] for n in truth["regions"]} == {"posterior_cingulate", "precuneus"}
    rc = main(["phantom", "--out", str(tmp_path / "dlb"), "--label", "DLB", "--variant", "early"])
    assert rc == 2 and not (tmp_path / "dlb").exists()
    err = capsys.readouterr().err
    assert "not a world A DLB variant" in err and "allowed:" in err and "no_cingulate_island" in err
