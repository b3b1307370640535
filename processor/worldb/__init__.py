"""World B: a second digital 123I-IMP brain SPECT world, built apart from world A and never trained on.

World A (:mod:`processor.phantom`, ``models.simulate``) is what the bundled model learnt from.
World B is written from the literature with its own regions (parcels grown from published MNI
coordinates), its own normal perfusion and individual variation, its own disease variants, its
own camera and reconstruction, and its own DICOM writer; only the MNI152 tissue templates are
shared. import-linter keeps the two apart (pyproject.toml). Everything is drawn from
``SeedSequence([seed, index, label, 0xB])``: same arguments, same bytes. docs/worldb.md
lists every number and its source.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from processor.worldb.anatomy import Anatomy, load_anatomy
from processor.worldb.dicom import LAYOUTS, draw_identity, uid, write_nm
from processor.worldb.disease import ALL_VARIANTS, LABELS, VARIANTS, DiseaseOptions, draw_disease, loss_map
from processor.worldb.perfusion import VariationOptions, activity, draw_subject, gm_perfusion, region_values
from processor.worldb.regions import Regions, build_regions
from processor.worldb.scanner import CameraOptions, acquire, draw_camera

log = logging.getLogger(__name__)
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["WorldBStudy", "make_study", "write_study", "study_name", "subject_activity", "LABELS", "VARIANTS",
           "ALL_VARIANTS", "LAYOUTS", "CameraOptions", "DiseaseOptions", "VariationOptions"]

WORLD = "B"
_LABEL_CODE = {"NC": 0, "AD": 1, "DLB": 2}


@dataclass
class WorldBStudy:
    """One world-B scan: the reconstructed image (patient LPS), its identity and its truth."""

    image: sitk.Image
    truth: dict[str, Any]
    identity: dict[str, Any] = field(repr=False)
    activity: np.ndarray | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return study_name(self.truth["label"], self.truth["seed"], self.truth["index"])


def study_name(label: str, seed: int, index: int) -> str:
    """Folder name of a world-B study: ``<label>_B<seed>_<index>``."""
    return f"{label}_B{seed}_{index}"


def subject_activity(anatomy: Anatomy, regions: Regions, subject: dict[str, Any],
                     disease: dict[str, Any]) -> np.ndarray:
    """Tracer uptake of one subject on the anatomy grid (MNI space, no camera)."""
    gm_perf = gm_perfusion(anatomy, regions, region_values(regions, subject), subject)
    if disease["weights"]:
        gm_perf = gm_perf * (1.0 - loss_map(regions, disease, anatomy.voxel_mm))
    return activity(anatomy, regions, gm_perf)


def make_study(label: str, seed: int, index: int = 0, *, camera: CameraOptions | None = None,
               disease: DiseaseOptions | None = None, variation: VariationOptions | None = None,
               layout: str | None = None, keep_activity: bool = False) -> WorldBStudy:
    """Simulate world-B study ``index`` of class ``label`` from ``seed`` (deterministic)."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}, got {label!r}")
    if seed < 0 or index < 0:
        raise ValueError("seed and index must be non-negative integers")
    if layout is not None and layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    anatomy = load_anatomy()
    regions = build_regions(anatomy)
    ss = np.random.SeedSequence([int(seed), int(index), _LABEL_CODE[label], 0xB])
    subj_ss, dis_ss, cam_ss, noise_ss, id_ss = ss.spawn(5)
    subject = draw_subject(np.random.default_rng(subj_ss), variation)
    sick = draw_disease(np.random.default_rng(dis_ss), label, disease)
    act = subject_activity(anatomy, regions, subject, sick)
    cam = draw_camera(np.random.default_rng(cam_ss), camera)
    cam["total_counts"] = int(round(cam["total_counts"] * subject["global_level"]))
    image = acquire(anatomy.to_sitk(act), anatomy.brain_centre_lps(), cam, np.random.default_rng(noise_ss))
    key = f"{label}/{seed}/{index}"
    idn = draw_identity(np.random.default_rng(id_ss), key, subject["age"], layout)
    truth = {
        "schema": "spectssp.phantom-truth/1", "world": WORLD,
        "label": label, "seed": int(seed), "index": int(index),
        "variant": sick["variant"], "severity": sick["severity"], "disease": sick,
        "subject": subject, "scanner": cam,
        "dicom": {k: idn[k] for k in ("layout", "encoding", "syntax", "vendor", "patient_id")},
    }
    return WorldBStudy(image, truth, idn, act if keep_activity else None)


def write_study(study: WorldBStudy, out_dir: Path | str) -> list[Path]:
    """Write ``study`` as DICOM into ``out_dir`` and its truth as ``out_dir.truth.json`` beside it."""
    out_dir = Path(out_dir)
    paths = write_nm(study.image, study.identity, study.truth["scanner"], out_dir)
    truth = dict(study.truth, layout=study.identity["layout"],
                 study_instance_uid=uid(study.identity["key"], "study"),
                 series_instance_uid=uid(study.identity["key"], "series"))
    sidecar = out_dir.with_name(out_dir.name + ".truth.json")
    tmp = sidecar.with_name(sidecar.name + ".part")
    tmp.write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")
    tmp.replace(sidecar)
    log.debug("%s: %s %s, %d file(s)", out_dir.name, study.truth["label"], study.truth["variant"], len(paths))
    return paths
