"""Registration adapter: SPECT volume (SimpleITK, LPS) -> MNI atlas grid with ANTs.

Rigid -> affine -> SyN (configurable) to the SPECT template after intensity normalisation.
The QC score is the Pearson correlation of the warped study with the template inside the
brain mask; below the configured threshold the study is rejected, never processed into
nonsense.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from atlas import Atlas
from processor.result import Registration

log = logging.getLogger(__name__)

# ANTsPy transform types for the configured stage lists.
_TYPES = {
    ("rigid",): "Rigid",
    ("affine",): "Affine",
    ("rigid", "affine"): "TRSAA",
    ("syn",): "SyNOnly",
    ("affine", "syn"): "SyN",
    ("rigid", "affine", "syn"): "SyNRA",
}


# SPECT at 10-16 mm resolution carries little detail for a deformable warp: a smoother SyN
# velocity field (flow sigma 5 voxels instead of ANTs' 3, total sigma 1) keeps the warp from
# chasing noise. On phantoms of known pose this halves the landmark error of default SyN
# (tests/processor/test_registration.py).
SYN_REGULARISATION = {"flow_sigma": 5, "total_sigma": 1}
PRESMOOTH_MM = 2.0


@dataclass
class Registered:
    """A study on the atlas grid, indexed like the atlas arrays (i, j, k)."""

    volume: np.ndarray
    qc: float
    transform: str
    mapped_points: np.ndarray | None = None   # requested atlas (LPS mm) points in the study's space
    # The study through the linear stages only (the same array as ``volume`` without SyN): its
    # blur is the scanner's, where the deformable warp would make a blurry scan look sharper.
    linear_volume: np.ndarray | None = None

    def report(self, qc_threshold: float) -> Registration:
        """This registration as result.json reports it; it passes when QC reaches the threshold."""
        return Registration(self.transform, round(self.qc, 4), self.qc >= qc_threshold, qc_threshold)


def describe(stages: list[str]) -> str:
    return f"ANTs {_TYPES[_key(stages)]} ({' -> '.join(stages)}) to the spectssp 123I-IMP template"


def _key(stages: list[str]) -> tuple[str, ...]:
    key = tuple(s for s in ("rigid", "affine", "syn") if s in stages)
    if key not in _TYPES:
        raise ValueError(f"unsupported registration stages {stages}")
    return key


def sitk_to_ants(image: sitk.Image):
    import ants
    arr = sitk.GetArrayViewFromImage(image).transpose(2, 1, 0).astype(np.float32)
    direction = np.array(image.GetDirection(), dtype=np.float64).reshape(3, 3)
    return ants.from_numpy(np.ascontiguousarray(arr), origin=tuple(image.GetOrigin()),
                           spacing=tuple(image.GetSpacing()), direction=direction)


def atlas_to_ants(atlas: Atlas, array: np.ndarray):
    import ants
    origin, spacing, direction = atlas.to_lps_geometry()
    return ants.from_numpy(np.ascontiguousarray(array.astype(np.float32)), origin=origin, spacing=spacing,
                           direction=np.array(direction).reshape(3, 3))


def intensity_normalise(arr: np.ndarray) -> np.ndarray:
    """Scale so the upper brain level is about 1: the 98th percentile of the voxels above 20 %
    of the maximum (robust to hot spots and to the empty field of view)."""
    pos = arr[arr > 0.2 * float(arr.max())]
    if pos.size == 0:
        return arr.astype(np.float32)
    return (arr / np.percentile(pos, 98)).astype(np.float32)


def qc_correlation(warped: np.ndarray, template: np.ndarray, mask: np.ndarray) -> float:
    a = warped[mask].astype(np.float64)
    b = template[mask].astype(np.float64)
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def register(image: sitk.Image, atlas: Atlas, stages: list[str], threads: int = 2, seed: int = 1,
             map_points: np.ndarray | None = None) -> Registered:
    """Warp ``image`` onto the atlas grid. Counts are preserved up to interpolation (the
    normalisation is only used to drive the metric).

    ``map_points`` (N, 3) LPS mm in atlas space are carried into the study's world space with
    the same transforms (for landmark checks of registration accuracy)."""
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(threads)
    # ANTs seeds parts of its sampling from this variable, not from ``random_seed`` alone:
    # without it two runs on one thread differ; with it they are bit-identical (measured).
    os.environ["ANTS_RANDOM_SEED"] = str(seed)
    import ants
    moving = sitk_to_ants(image)
    # Light smoothing takes the edge off Poisson noise so the metric follows anatomy.
    moving_n = ants.smooth_image(moving, PRESMOOTH_MM, sigma_in_physical_coordinates=True)
    moving_n = moving_n.new_image_like(intensity_normalise(moving_n.numpy()))
    fixed = atlas_to_ants(atlas, intensity_normalise(atlas.template))
    kind = _TYPES[_key(stages)]
    extra = SYN_REGULARISATION if "syn" in stages else {}
    reg = ants.registration(fixed=fixed, moving=moving_n, type_of_transform=kind, random_seed=seed,
                            verbose=False, **extra)
    try:
        return _finish(reg, fixed, moving, atlas, stages, map_points)
    finally:
        for path in reg["fwdtransforms"] + reg["invtransforms"]:
            try:
                os.remove(path)
            except OSError:
                pass


def _finish(reg, fixed, moving, atlas: Atlas, stages: list[str], map_points) -> Registered:
    import ants
    warped = ants.apply_transforms(fixed=fixed, moving=moving, transformlist=reg["fwdtransforms"],
                                   interpolator="linear")
    vol = np.clip(warped.numpy().astype(np.float32), 0, None)
    linear = vol
    # [warp field, affine]: the affine alone (SyN without a linear stage has no affine to use)
    if "syn" in stages and ("rigid" in stages or "affine" in stages) and reg["fwdtransforms"][-1].endswith(".mat"):
        affine_only = ants.apply_transforms(fixed=fixed, moving=moving, transformlist=reg["fwdtransforms"][-1:],
                                            interpolator="linear")
        linear = np.clip(affine_only.numpy().astype(np.float32), 0, None)
    qc = qc_correlation(intensity_normalise(vol), atlas.template, atlas.brain)
    mapped = None
    if map_points is not None:
        import pandas as pd
        pts = pd.DataFrame(np.asarray(map_points, dtype=np.float64), columns=["x", "y", "z"])
        # Points travel opposite to images: the forward transforms take fixed-space points
        # to the moving image's space.
        mapped = ants.apply_transforms_to_points(3, pts, reg["fwdtransforms"]).to_numpy()
    log.debug("registration %s: qc r=%.3f", describe(stages), qc)
    return Registered(vol, qc, describe(stages), mapped, linear)
