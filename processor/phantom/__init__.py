"""Digital 123I-IMP (or 99mTc-ECD: ``SubjectOptions(tracer="ECD")``) brain perfusion SPECT phantom.

The normal pattern is the bundled model's (``phantom``) or one moved towards published normal
values (``SubjectOptions(normal_pattern="published")``, docs/phantom-calibration.md).

There is no real brain SPECT on these machines: every test, demo, normal database and training
run stands on these studies. ``make_study`` draws a subject (perfusion, variability, disease),
acquires it (pose, resolution, Poisson counts) and ``write_study`` writes vendor-like NM DICOM.
Everything is drawn from ``numpy.random.SeedSequence([seed, index, label])``: same arguments,
same bytes.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import SimpleITK as sitk

from atlas.load import Atlas, load_atlas
from processor.phantom.dicom_writer import LAYOUTS, study_metadata, study_uids, write_dicom
from processor.phantom.scanner import ScannerOptions, acquire
from processor.phantom.subject import (AD_VARIANTS, CLASS_LABELS, DLB_VARIANTS, VARIANTS, SubjectOptions,
                                       apply_reduction, simulate_subject, variants_for)
from processor.phantom.normal_pattern import NORMAL_PATTERNS
from processor.phantom.tracers import TRACERS

log = logging.getLogger(__name__)

__all__ = ["PhantomStudy", "make_study", "write_study", "write_benchmark_studies", "study_name", "SubjectOptions",
           "ScannerOptions", "simulate_subject", "apply_reduction", "acquire", "CLASS_LABELS",
           "VARIANTS", "AD_VARIANTS", "DLB_VARIANTS", "variants_for", "LAYOUTS", "TRACERS", "NORMAL_PATTERNS"]

_LABEL_CODE = {"NC": 0, "AD": 1, "DLB": 2}


@dataclass
class PhantomStudy:
    """One simulated scan: the scanner image (LPS), its truth, and the subject on the atlas grid."""

    image: sitk.Image
    truth: dict[str, Any]
    activity: np.ndarray | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return study_name(self.truth["label"], self.truth["seed"], self.truth["index"], self.truth["tracer"],
                          self.truth.get("normal_pattern", "phantom"))


def study_name(label: str, seed: int, index: int, tracer: str = "IMP", normal_pattern: str = "phantom") -> str:
    """Folder name of a study: ``<label>_<seed>_<index>``; another tracer than IMP is written
    before the seed (``<label>_ECD<seed>_<index>``), the published normal pattern as ``pub``
    (``<label>_pub<seed>_<index>``, ``<label>_ECDpub<seed>_<index>``)."""
    tag = ("" if tracer == "IMP" else tracer) + ("" if normal_pattern == "phantom" else "pub")
    return f"{label}_{tag}{seed}_{index}"


def make_study(label: str, seed: int, index: int = 0, *, subject: SubjectOptions | None = None,
               scanner: ScannerOptions | None = None,
               lesions: Sequence[tuple[Sequence[str], float]] = (), atlas: Atlas | None = None,
               keep_activity: bool = False) -> PhantomStudy:
    """Simulate study ``index`` of class ``label`` from ``seed`` (deterministic).

    ``lesions`` adds known hard-edged reductions, e.g. ``[(["cuneus_L"], 0.25)]``; the tracer
    (IMP, ECD) is ``subject.tracer``.
    """
    if label not in CLASS_LABELS:
        raise ValueError(f"label must be one of {', '.join(CLASS_LABELS)}, got {label!r}")
    if seed < 0 or index < 0:
        raise ValueError("seed and index must be non-negative integers")
    atlas = atlas or load_atlas()
    ss = np.random.SeedSequence([int(seed), int(index), _LABEL_CODE[label]])
    subj_ss, scan_ss, meta_ss = ss.spawn(3)
    activity, subj_truth = simulate_subject(np.random.default_rng(subj_ss), label, subject, atlas, lesions)
    image, scan_truth = acquire(activity, atlas, np.random.default_rng(scan_ss), scanner,
                                global_level=subj_truth["global_level"])
    pattern = subj_truth.get("normal_pattern", "phantom")
    meta = study_metadata(np.random.default_rng(meta_ss), label, int(seed), int(index), subj_truth["age"],
                          subj_truth["tracer"], pattern)
    truth = {
        "schema": "spectssp.phantom-truth/1",
        "label": label, "seed": int(seed), "index": int(index), "tracer": subj_truth["tracer"],
        **({} if pattern == "phantom" else {"normal_pattern": pattern}),
        "pattern": subj_truth["pattern"], "variant": subj_truth["variant"],
        "severity": subj_truth["severity"], "regions": subj_truth["regions"],
        "subject": subj_truth, "scanner": scan_truth, "dicom": meta,
        "atlas_sha256": atlas.sha256,
    }
    return PhantomStudy(image, truth, activity if keep_activity else None)


def write_study(study: PhantomStudy, out_dir: Path | str, layout: str = "multiframe") -> list[Path]:
    """Write ``study`` into ``out_dir`` (DICOM only) and its truth as ``out_dir.truth.json`` beside it.

    The sidecar sits outside the folder so that intake of the folder finds DICOM only.
    """
    out_dir = Path(out_dir)
    paths = write_dicom(study.image, study.truth, out_dir, layout)
    truth = dict(study.truth, layout=layout, **study_uids(study.truth["dicom"]))
    sidecar = out_dir.with_name(out_dir.name + ".truth.json")
    tmp = sidecar.with_name(sidecar.name + ".part")
    tmp.write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")
    tmp.replace(sidecar)
    return paths



def write_benchmark_studies(folder: Path, n: int, seed: int) -> list[Path]:
    """``n`` studies for the throughput benchmarks (NC, AD, DLB in turn; every fifth one file
    per slice, the rest multiframe), each in ``folder/<name>``; one atlas load for all."""
    atlas = load_atlas()
    out = []
    for i in range(n):
        study = make_study(("NC", "AD", "DLB")[i % 3], seed, i, atlas=atlas)
        write_study(study, folder / study.name, "slices" if i % 5 == 4 else "multiframe")
        out.append(folder / study.name)
    return out
