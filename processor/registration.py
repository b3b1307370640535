"""Registration adapter: SPECT volume (SimpleITK, LPS) -> MNI atlas grid with ANTs.

Rigid -> affine -> SyN (configurable) to the SPECT template after intensity normalisation.
Two profiles estimate the transforms (``registration.profile``): ``reference`` runs ANTs'
default multi-resolution schedule on the 2 mm template grid; ``spect`` estimates them on a
coarse grid suited to 10-16 mm data with a short schedule, then applies them to the
full-resolution study. Either way the study is resampled onto the 2 mm atlas grid, and the QC
score is the Pearson correlation of the warped study with the template inside the brain mask;
below the configured threshold the study is rejected, never processed into nonsense.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from atlas import Atlas
from atlas.coverage import COVERED
from processor.result import Registration
from spectssp.resources import threads_for_one_task

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


@dataclass(frozen=True)
class Profile:
    """A coarse-grid estimation schedule. The grid, not the iteration counts, sets the cost: SPECT
    harmonised to 16 mm FWHM has nothing at 2 mm for the metric to follow (measured in
    ``make bench``: landmark error on phantoms of known pose no worse than ``reference``)."""

    grid_mm: float                       # fixed (template) and moving resampled to this grid
    linear_iterations: tuple[int, ...]   # per level, rigid and affine alike
    linear_shrink: tuple[int, ...]
    linear_sigmas: tuple[int, ...]       # voxels of the coarse grid
    syn_iterations: tuple[int, ...]      # per level; shrink factors 2^(n-1) ... 1 (ANTsPy)


# ``reference``: today's ANTs defaults on the 2 mm grid (None: the single SyNRA-type call).
PROFILES: dict[str, Profile | None] = {
    "reference": None,
    "spect": Profile(grid_mm=6.0, linear_iterations=(100, 50), linear_shrink=(2, 1), linear_sigmas=(1, 0),
                     syn_iterations=(40, 20)),
}
DEFAULT_PROFILE = "spect"


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
    profile: str = DEFAULT_PROFILE             # the registration.profile that estimated it
    # The study's field of view on the atlas grid: a ones-image on the study's grid through the
    # same transforms (1 inside the original field of view, 0 outside), so coverage is known
    # from geometry, never guessed from counts.
    fov: np.ndarray | None = None

    def report(self, qc_threshold: float) -> Registration:
        """This registration as result.json reports it; it passes when QC reaches the threshold."""
        return Registration(self.transform, round(self.qc, 4), self.qc >= qc_threshold, qc_threshold,
                            self.profile)


def describe(stages: list[str], profile: str = "reference", site: bool = False) -> str:
    spec = PROFILES[profile]
    grid = f", estimated on a {spec.grid_mm:g} mm grid" if spec is not None else ""
    target = "the normal database's site template" if site else "the spectssp 123I-IMP template"
    return f"ANTs {_TYPES[_key(stages)]} ({' -> '.join(stages)}{grid}) to {target}"


def _key(stages: list[str]) -> tuple[str, ...]:
    key = tuple(s for s in ("rigid", "affine", "syn") if s in stages)
    if key not in _TYPES:
        raise ValueError(f"unsupported registration stages {stages}")
    return key


def sitk_to_ants(image: sitk.Image):
    import ants  # deferred: 2.3 s, paid at the first registration, not by importing the pipeline
    arr = sitk.GetArrayViewFromImage(image).transpose(2, 1, 0).astype(np.float32)
    direction = np.array(image.GetDirection(), dtype=np.float64).reshape(3, 3)
    return ants.from_numpy(np.ascontiguousarray(arr), origin=tuple(image.GetOrigin()),
                           spacing=tuple(image.GetSpacing()), direction=direction)


def atlas_to_ants(atlas: Atlas, array: np.ndarray):
    import ants  # deferred: 2.3 s, paid at the first registration, not by importing the pipeline
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
    if a.size < 2 or a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def register(image: sitk.Image, atlas: Atlas, stages: list[str], threads: int = 0, seed: int = 1,
             map_points: np.ndarray | None = None, profile: str = DEFAULT_PROFILE,
             template: np.ndarray | None = None) -> Registered:
    """Warp ``image`` onto the atlas grid. Counts are preserved up to interpolation (the
    normalisation is only used to drive the metric).

    ``template`` (atlas grid) is the fixed image and the QC reference: a normal database's site
    template (``processor.site_template``); None: the bundled ``atlas.template``.

    ``map_points`` (N, 3) LPS mm in atlas space are carried into the study's world space with
    the same transforms (for landmark checks of registration accuracy). ``profile`` names an
    entry of ``PROFILES``. ``threads`` 0: every core this process may use (a caller running
    several registrations at once passes its share, :func:`spectssp.resources.plan`)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown registration profile {profile!r}")
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(threads_for_one_task(threads))
    # ANTs seeds parts of its sampling from this variable, not from ``random_seed`` alone:
    # without it two runs on one thread differ; with it they are bit-identical (measured).
    os.environ["ANTS_RANDOM_SEED"] = str(seed)
    import ants  # deferred: 2.3 s, paid at the first registration, not by importing the pipeline
    moving = sitk_to_ants(image)
    # Light smoothing takes the edge off Poisson noise so the metric follows anatomy.
    moving_n = ants.smooth_image(moving, PRESMOOTH_MM, sigma_in_physical_coordinates=True)
    moving_n = moving_n.new_image_like(intensity_normalise(moving_n.numpy()))
    template = atlas.template if template is None else template
    fixed = atlas_to_ants(atlas, intensity_normalise(template))
    spec = PROFILES[profile]
    temp: list[str] = []
    try:
        if spec is None:
            kind = _TYPES[_key(stages)]
            extra = SYN_REGULARISATION if "syn" in stages else {}
            reg = ants.registration(fixed=fixed, moving=moving_n, type_of_transform=kind, random_seed=seed,
                                    verbose=False, **extra)
            temp += reg["fwdtransforms"] + reg["invtransforms"]
            forward = reg["fwdtransforms"]
        else:
            forward = _estimate_coarse(fixed, moving_n, stages, spec, seed, temp)
        return _finish(forward, fixed, moving, atlas, stages, map_points, profile, template)
    finally:
        for path in temp:
            try:
                os.remove(path)
            except OSError:
                pass


def _estimate_coarse(fixed, moving_n, stages: list[str], spec: Profile, seed: int, temp: list[str]) -> list[str]:
    """The forward transforms estimated on ``spec.grid_mm`` images, one ANTs call per stage, each
    starting from the last (the first linear one from the intensity centres of mass, ANTs'
    default initialisation). Transform files are physical-space, so they apply unchanged to the
    full-resolution study on the 2 mm grid."""
    import ants  # deferred: 2.3 s, paid at the first registration, not by importing the pipeline
    _key(stages)
    grid = (spec.grid_mm,) * 3
    fixed_c = ants.resample_image(fixed, grid, use_voxels=False, interp_type=0)
    moving_c = moving_n
    if min(moving_n.spacing) < spec.grid_mm:
        moving_c = ants.resample_image(moving_n, grid, use_voxels=False, interp_type=0)
    linear = dict(aff_iterations=spec.linear_iterations, aff_shrink_factors=spec.linear_shrink,
                  aff_smoothing_sigmas=spec.linear_sigmas)
    initial: str | None = None
    forward: list[str] = []
    for stage in stages:
        if stage == "syn":
            kw = dict(type_of_transform="SyNOnly", reg_iterations=spec.syn_iterations, **SYN_REGULARISATION)
        else:
            kw = dict(type_of_transform=stage.capitalize(), **linear)
        reg = ants.registration(fixed=fixed_c, moving=moving_c, initial_transform=initial, random_seed=seed,
                                verbose=False, **kw)
        temp += reg["fwdtransforms"] + reg["invtransforms"]
        forward = reg["fwdtransforms"]
        initial = forward[-1] if forward[-1].endswith(".mat") else None
    return forward


def _finish(forward: list[str], fixed, moving, atlas: Atlas, stages: list[str], map_points,
            profile: str, template: np.ndarray) -> Registered:
    import ants  # deferred: 2.3 s, paid at the first registration, not by importing the pipeline
    warped = ants.apply_transforms(fixed=fixed, moving=moving, transformlist=forward, interpolator="linear")
    vol = np.clip(warped.numpy().astype(np.float32), 0, None)
    linear = vol
    # [warp field, affine]: the affine alone (SyN without a linear stage has no affine to use)
    if "syn" in stages and ("rigid" in stages or "affine" in stages) and forward[-1].endswith(".mat"):
        affine_only = ants.apply_transforms(fixed=fixed, moving=moving, transformlist=forward[-1:],
                                            interpolator="linear")
        linear = np.clip(affine_only.numpy().astype(np.float32), 0, None)
    ones = moving.new_image_like(np.ones(moving.shape, dtype=np.float32))
    fov = ants.apply_transforms(fixed=fixed, moving=ones, transformlist=forward, interpolator="linear",
                                defaultvalue=0).numpy().astype(np.float32)
    # QC where the study has data: voxels outside its field of view are zero by construction,
    # and a cut field of view is the coverage check's to report, not a failed registration.
    # A study that covers the whole brain gets the same QC as over the whole mask.
    qc = qc_correlation(intensity_normalise(vol), template, atlas.brain & (fov >= COVERED))
    mapped = None
    if map_points is not None:
        import pandas as pd  # deferred: 0.5-1.2 s of every start-up, needed only for landmark checks
        pts = pd.DataFrame(np.asarray(map_points, dtype=np.float64), columns=["x", "y", "z"])
        # Points travel opposite to images: the forward transforms take fixed-space points
        # to the moving image's space.
        mapped = ants.apply_transforms_to_points(3, pts, forward).to_numpy()
    text = describe(stages, profile, site=template is not atlas.template)
    log.debug("registration %s: qc r=%.3f", text, qc)
    return Registered(vol, qc, text, mapped, linear, profile, fov)
