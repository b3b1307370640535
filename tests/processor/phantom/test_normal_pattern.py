"""The published normal pattern: the default phantom is unchanged to the bit, and the published
pattern moves the noise-free VOI means where and by how much processor.phantom.normal_pattern
says (docs/phantom-calibration.md)."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import SimpleITK as sitk

from atlas import load_atlas
from processor.cli.main import main
from processor.phantom import ScannerOptions, SubjectOptions, make_study, simulate_subject
from processor.phantom.normal_pattern import PUBLISHED_FACTOR, regional_means

# sha256 of the pixel array of make_study(label, 3, 0, scanner=ScannerOptions(matrix=64)) on main
# before the option existed (commit 18872db): the bundled database and model are built from it.
MAIN_SHA256 = {"NC": "9bf385842ac5344286bdb99a0b7ec20f56e0e5650112531a5e13b22f34604f86",
               "AD": "7b4ec61a7e1a4d20c2d1afd714bc6e2ff7c834590d54554f3f995c7e6fb1ecd5"}
# MEASURED region of each factor's VOI base
REGION = {"cuneus": "cuneus_calcarine", "lingual": "lingual", "posterior_cingulate": "posterior_cingulate",
          "precuneus": "precuneus", "medial_temporal": "medial_temporal"}


@pytest.fixture(scope="module")
def atlas():
    return load_atlas()


@pytest.fixture(scope="module")
def means(atlas):
    """Unblurred and 12 mm VOI means of one old NC subject under both patterns (no deformation)."""
    out = {}
    for pattern in ("phantom", "published"):
        act, truth = simulate_subject(np.random.default_rng(5), "NC",
                                      SubjectOptions(normal_pattern=pattern, deform=False, age=(85, 85)), atlas)
        out[pattern] = {"sharp": regional_means(act, atlas, 0.0), "spect": regional_means(act, atlas), "truth": truth}
    return out


@pytest.mark.parametrize("label", ["NC", "AD"])
def test_default_study_is_bit_identical_to_main(label) -> None:
    study = make_study(label, 3, 0, scanner=ScannerOptions(matrix=64))
    assert hashlib.sha256(sitk.GetArrayViewFromImage(study.image).tobytes()).hexdigest() == MAIN_SHA256[label]
    assert study.name == f"{label}_3_0" and "normal_pattern" not in study.truth
    assert "normal_pattern" not in study.truth["subject"]


def test_published_factors_move_their_vois_by_the_stated_amount(means) -> None:
    ph, pub = means["phantom"]["sharp"], means["published"]["sharp"]
    for base, factor in PUBLISHED_FACTOR.items():
        change = pub[REGION[base]] / ph[REGION[base]] - 1.0
        stated = factor - 1.0
        # the factor's 6 mm edge blur lets the VOI mean move a little less than the factor
        assert 0.6 * abs(stated) <= abs(change) <= abs(stated) + 1e-6 and np.sign(change) == np.sign(stated), base
    for region in ("frontal", "sensorimotor", "parietal", "lateral_temporal", "thalamus", "cerebellum", "white_matter"):
        assert pub[region] / ph[region] == pytest.approx(1.0, abs=0.005), region


def test_published_pattern_reads_as_published_normal_perfusion(means) -> None:
    """At SPECT resolution the published pattern has the high visual and posteromedial cortex and
    a medial temporal lobe below 1.0 x cortex (Oku 1997: 0.939 +- 0.024); the phantom has not."""
    ph, pub = means["phantom"]["spect"], means["published"]["spect"]
    rel = {k: {n: m[k] / m["cerebral_cortex"] for n, m in (("ph", ph), ("pub", pub))}
           for k in ("medial_temporal", "posterior_cingulate", "precuneus", "cuneus_calcarine")}
    assert rel["medial_temporal"]["ph"] > 1.12 and 0.93 < rel["medial_temporal"]["pub"] < 1.0
    for k in ("posterior_cingulate", "precuneus", "cuneus_calcarine"):
        assert rel[k]["pub"] > 1.03 and rel[k]["pub"] > rel[k]["ph"] + 0.03, k


def test_published_age_decline_reaches_insula_and_striatum(means) -> None:
    ph, pub = means["phantom"]["sharp"], means["published"]["sharp"]
    loss = means["published"]["truth"]["frontal_reduction"]
    assert loss == means["phantom"]["truth"]["frontal_reduction"] > 0.02   # same draws: the same subject
    assert pub["insula"] / ph["insula"] == pytest.approx(1 - loss, abs=0.012)
    assert pub["striatum"] / ph["striatum"] == pytest.approx(1 - 0.7 * loss, abs=0.012)
    assert pub["frontal"] / ph["frontal"] == pytest.approx(1.0, abs=0.003)   # frontal: both patterns


def test_published_study_is_another_study(tmp_path) -> None:
    scanner = ScannerOptions(matrix=64, noise_free=True)
    a = make_study("NC", 3, 0, scanner=scanner)
    b = make_study("NC", 3, 0, scanner=scanner, subject=SubjectOptions(normal_pattern="published"))
    c = make_study("NC", 3, 0, scanner=scanner, subject=SubjectOptions(normal_pattern="published", tracer="ECD"))
    assert (b.name, c.name) == ("NC_pub3_0", "NC_ECDpub3_0")
    assert b.truth["normal_pattern"] == b.truth["subject"]["normal_pattern"] == "published"
    assert a.truth["dicom"]["uid_seed"] != b.truth["dicom"]["uid_seed"] != c.truth["dicom"]["uid_seed"]
    assert a.truth["subject"]["age"] == b.truth["subject"]["age"]
    with pytest.raises(ValueError, match="normal_pattern"):
        SubjectOptions(normal_pattern="real")


def test_cli_writes_published_studies_and_refuses_world_b(tmp_path, capsys) -> None:
    rc = main(["phantom", "--out", str(tmp_path), "--label", "NC", "--seed", "4", "--matrix", "64",
               "--normal-pattern", "published"])
    assert rc == 0 and (tmp_path / "NC_pub4_0.truth.json").is_file()
    assert "published normal pattern" in capsys.readouterr().out
    rc = main(["phantom", "--out", str(tmp_path / "b"), "--world", "B", "--label", "NC",
               "--normal-pattern", "published"])
    assert rc == 2 and "--normal-pattern" in capsys.readouterr().err
