"""Phantom studies and a normal database for the daemon tests that run the real pipeline.

The bundled phantom normal database is used when it is there; otherwise a small one is built
from phantom ground truth on the atlas grid (no registration: seconds, not minutes). Either is
good enough here: these tests check the daemon, not the statistics.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from atlas.load import BUNDLED_NORMAL_DATABASE


def normal_database(folder: Path) -> Path:
    if BUNDLED_NORMAL_DATABASE.is_file():
        return BUNDLED_NORMAL_DATABASE
    from atlas import load_atlas
    from atlas.normaldb_build import NormalDatabaseBuilder
    from processor.intake import load_series
    from processor.phantom import make_study, write_study
    atlas = load_atlas()
    builder = NormalDatabaseBuilder(atlas, 13.5, "IMP", resolution_fwhm_mm=16.0)  # config default
    for i in range(4):
        study = make_study("NC", 900, i, atlas=atlas, keep_activity=True)
        builder.add(study.activity.astype("float32"), {"series_uid": f"phantom-{i}", "age": study.truth["subject"].get("age")})
        if i == 0:  # the tracer as intake reads it from the phantom's DICOM
            [s] = load_series(write_study(study, folder / "probe"))
            builder.tracer = s.tracer or "IMP"
            shutil.rmtree(folder / "probe")
    path = folder / "test-phantom.ndb"
    builder.build(note="daemon tests").save(path)
    return path


def ecd_database(folder: Path, n: int = 3, seed: int = 950) -> Path:
    """A small 99mTc-ECD normal database from phantom ground truth on the atlas grid (seconds)."""
    from atlas import load_atlas
    from atlas.normaldb_build import NormalDatabaseBuilder
    from processor.phantom import SubjectOptions, make_study
    atlas = load_atlas()
    builder = NormalDatabaseBuilder(atlas, 13.5, "ECD", resolution_fwhm_mm=16.0)  # config default
    for i in range(n):
        study = make_study("NC", seed, i, subject=SubjectOptions(tracer="ECD"), atlas=atlas, keep_activity=True)
        builder.add(study.activity.astype("float32"), {"series_uid": f"ecd-phantom-{i}", "age": study.truth["subject"]["age"]})
    path = folder / "test-ecd-phantom.ndb"
    builder.build(note="tests: ECD phantom normals").save(path)
    return path


def write_studies(folder: Path, specs: list[tuple[str, int, str]], seed: int = 77,
                  tracer: str = "IMP") -> list[dict[str, Any]]:
    """Write each (label, index, layout) phantom into ``folder/<name>/``; returns their truths."""
    from atlas import load_atlas
    from processor.phantom import SubjectOptions, make_study, write_study
    atlas = load_atlas()
    out = []
    for label, index, layout in specs:
        study = make_study(label, seed, index, atlas=atlas, subject=SubjectOptions(tracer=tracer))
        files = write_study(study, folder / study.name, layout)
        truth = yaml.safe_load((folder / f"{study.name}.truth.json").read_text())
        out.append({"name": study.name, "dir": folder / study.name, "files": files, "layout": layout,
                    "series_uid": truth["series_instance_uid"], "study_uid": truth["study_instance_uid"]})
    return out


def site_config(root: Path, ndb: Path, **daemon: Any) -> Path:
    """A site config for fast real-pipeline runs: rigid+affine, statistics only, short quiet period."""
    d = {"workers": 2, "poll_interval_s": 0.2, "max_attempts": 2}
    d.update(daemon)
    cfg = {"paths": {"incoming": str(root / "incoming"), "output": str(root / "output"), "state": str(root / "state")},
           "normal_database": str(ndb), "model": None,
           "intake": {"quiet_period_s": 1.5},
           "registration": {"stages": ["rigid", "affine"], "threads": 1},
           "outputs": {"png_report": False},
           "daemon": d}
    path = root / "site.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path
