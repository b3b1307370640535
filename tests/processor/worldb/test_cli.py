"""``spectssp phantom --world B``: folders, sidecars, variants; world A stays the default."""
from __future__ import annotations

import hashlib
import json

from processor.cli.main import main


def test_world_b_writes_folders_and_sidecars(tmp_path):
    rc = main(["phantom", "--world", "B", "--out", str(tmp_path), "--label", "DLB", "--count", "2", "--seed", "9",
               "--variant", "parietal", "--matrix", "64", "--layout", "slices"])
    assert rc == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["DLB_B9_0", "DLB_B9_0.truth.json", "DLB_B9_1", "DLB_B9_1.truth.json"]
    for n in (0, 1):
        truth = json.loads((tmp_path / f"DLB_B9_{n}.truth.json").read_text())
        assert truth["world"] == "B" and truth["label"] == "DLB" and truth["variant"] == "parietal"
        assert truth["seed"] == 9 and truth["index"] == n and truth["layout"] == "slices"
        assert truth["scanner"]["matrix"] == 64
        assert len(list((tmp_path / f"DLB_B9_{n}").iterdir())) > 16


def test_world_b_refuses_another_worlds_variant(tmp_path, capsys):
    rc = main(["phantom", "--world", "B", "--out", str(tmp_path), "--label", "AD", "--variant", "partial"])
    assert rc == 2 and "world B AD variant" in capsys.readouterr().err
    rc = main(["phantom", "--out", str(tmp_path), "--label", "AD", "--variant", "temporal"])
    assert rc == 2 and "world A AD variant" in capsys.readouterr().err


def test_world_a_is_the_default_and_unchanged(tmp_path):
    def digest(folder):
        return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes()
                                       for p in sorted(folder.rglob("*")) if p.is_file())).hexdigest()
    assert main(["phantom", "--out", str(tmp_path / "default"), "--label", "NC", "--seed", "4", "--matrix", "64"]) == 0
    assert main(["phantom", "--world", "A", "--out", str(tmp_path / "a"), "--label", "NC", "--seed", "4",
                 "--matrix", "64", "--layout", "multiframe", "--severity", "0.10", "0.35"]) == 0
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["NC_4_0", "NC_4_0.truth.json"]
    assert digest(tmp_path / "default") == digest(tmp_path / "a")
