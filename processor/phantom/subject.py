"""One simulated subject's 123I-IMP perfusion on the atlas grid (pure numpy/scipy, no I/O).

The base is :func:`atlas.perfusion.activity_map` (the same model as the SPECT template), so a
normal phantom matches the template up to the subject variability added here: a global level,
smooth multiplicative regional heterogeneity, an age-like mild frontal reduction and a small
smooth anatomical deformation. Disease patterns lower counts in atlas VOIs with smooth edges,
in MNI space and *before* the deformation, so a defect follows the subject's anatomy as it
would in a real brain. Random fields are drawn on a coarse grid and upsampled (speed).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy import ndimage

from atlas import voi
from atlas.load import Atlas, load_atlas
from atlas.perfusion import activity_map
from processor.phantom.normal_pattern import age_regions, check_normal_pattern, pattern_factor
from processor.phantom.tracers import check_tracer, tracer_factor

log = logging.getLogger(__name__)

CLASS_LABELS = ("NC", "AD", "DLB")
VARIANTS = ("typical", "asymmetric", "mild", "partial")
_VARIANT_P = (0.45, 0.25, 0.12, 0.18)
# DLB variants from the clinical literature that are made only when asked for (never drawn, so
# every existing seed keeps its studies): the medial occipital cortex (primary visual cortex
# along the calcarine sulcus: AAL's cuneus with calcarine, and lingual) relatively spared, the
# lateral occipital association cortex affected (Imamura 1999, Lobotesis 2001); and the
# posterior cingulate involved, i.e. no cingulate island sign. Shares as in the training
# simulation (models/simulate.py), which world A's test studies must be able to probe.
DLB_VARIANTS = ("occipital_spared_v1", "no_cingulate_island")
# AD confined to its earliest sites, the posterior cingulate and precuneus (Minoshima 1997), made
# only when asked for, as the DLB variants above; the training simulation's ``ad_early_p``.
AD_VARIANTS = ("early",)
ASKED_VARIANTS = {"AD": AD_VARIANTS, "DLB": DLB_VARIANTS}   # label -> the variants made only when asked for
EVERY_VARIANT = VARIANTS + sum(ASKED_VARIANTS.values(), ())
DLB_V1_SHARE = (0.0, 0.3)            # the medial occipital share of the severity when spared
DLB_CINGULATE_SHARE = (0.4, 0.9)     # the posterior cingulate share without the island sign


def variants_for(label: str) -> tuple[str, ...]:
    """The variants a study of ``label`` may be asked for (NC accepts and ignores the drawn ones)."""
    return VARIANTS + ASKED_VARIANTS.get(label, ())


# Disease patterns: VOI base name -> share of the severity. AD: temporoparietal association
# cortex, posterior cingulate and precuneus, lateral temporal milder (mostly posterior). DLB:
# occipital incl. primary visual cortex; posterior cingulate nearly spared (cingulate island).
AD_PATTERN: dict[str, float] = {
    "angular": 1.0, "inferior_parietal": 1.0, "supramarginal": 0.9, "superior_parietal": 0.75,
    "precuneus": 0.9, "posterior_cingulate": 1.0, "lateral_temporal": 0.45,
}
AD_EARLY = ("posterior_cingulate", "precuneus")   # kept in the partial variant (earliest sites)
DLB_PATTERN: dict[str, float] = {
    "cuneus": 1.0, "lingual": 0.9, "superior_occipital": 0.95, "middle_occipital": 0.95,
    "inferior_occipital": 0.8, "posterior_cingulate": 0.1,
}
DLB_EARLY = ("cuneus", "lingual")
# DLB often also involves the parietal association cortex (less than AD): probability, shares.
DLB_PARIETAL_P = 0.7
DLB_PARIETAL: dict[str, float] = {
    "angular": 0.6, "inferior_parietal": 0.6, "superior_parietal": 0.55, "supramarginal": 0.45,
    "precuneus": 0.5,
}
# Regions whose defect grows from anterior to posterior (temporoparietal junction), not flat.
POSTERIOR_GRADED = {"lateral_temporal"}
# The age-like decline's regions: processor.phantom.normal_pattern.AGE_REGIONS.


@dataclass(frozen=True)
class SubjectOptions:
    """Ranges of the subject simulation; a (lo, hi) pair is drawn uniformly."""

    severity: tuple[float, float] = (0.10, 0.35)   # fractional count reduction at full share
    variant: str | None = None                     # one of VARIANTS; None: drawn
    global_level: tuple[float, float] = (0.85, 1.15)
    heterogeneity_sd: tuple[float, float] = (0.02, 0.045)
    heterogeneity_mm: float = 14.0                 # coarse grid spacing of the regional field
    deformation_rms_mm: tuple[float, float] = (1.0, 2.5)
    deformation_mm: float = 24.0                   # coarse grid spacing of the displacement
    scale: tuple[float, float] = (0.96, 1.04)      # head size, per axis
    age: tuple[float, float] | None = None         # None: by label (NC younger on average)
    frontal_per_decade: float = 0.012              # age-like frontal (and, published, insula,
                                                   # striatum) reduction above 45 years
    edge_fwhm_mm: float = 8.0                      # smoothness of defect edges
    deform: bool = True
    tracer: str = "IMP"                            # IMP or ECD (processor.phantom.tracers)
    normal_pattern: str = "phantom"                # phantom or published (processor.phantom.normal_pattern)

    def __post_init__(self) -> None:
        check_tracer(self.tracer)
        check_normal_pattern(self.normal_pattern)
        lo, hi = self.severity
        if not 0 <= lo <= hi < 1:
            raise ValueError(f"severity must be 0 <= min <= max < 1, got {self.severity}")
        if self.variant is not None and self.variant not in EVERY_VARIANT:
            raise ValueError(f"variant must be one of {', '.join(EVERY_VARIANT)}, got {self.variant!r}")


def _uniform(rng: np.random.Generator, r: tuple[float, float]) -> float:
    return float(rng.uniform(r[0], r[1])) if r[1] > r[0] else float(r[0])


_BASE_CACHE: dict[int, tuple[Atlas, np.ndarray]] = {}


def base_activity(atlas: Atlas) -> np.ndarray:
    """The atlas perfusion model (cached per atlas; callers must not modify it)."""
    hit = _BASE_CACHE.get(id(atlas))
    if hit is None or hit[0] is not atlas:
        act = activity_map(atlas.gm, atlas.wm, atlas.brain.astype(np.float32), atlas.labels, voi.LABELS)
        act.setflags(write=False)
        _BASE_CACHE[id(atlas)] = hit = (atlas, act)
    return hit[1]


def _interp_matrix(n: int, m: int) -> np.ndarray:
    """(n, m) linear interpolation weights from m coarse nodes spanning the same extent."""
    t = np.linspace(0.0, m - 1, n)
    lo = np.clip(np.floor(t).astype(int), 0, max(m - 2, 0))
    w = t - lo
    mat = np.zeros((n, m), np.float32)
    mat[np.arange(n), lo] = 1 - w
    if m > 1:
        mat[np.arange(n), lo + 1] += w
    return mat


def upsample(coarse: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Separable linear upsampling of a coarse 3D field to ``shape`` (exact size, fast)."""
    a, b, c = (_interp_matrix(n, m) for n, m in zip(shape, coarse.shape))
    out = np.einsum("ia,abc->ibc", a, coarse.astype(np.float32))
    out = np.einsum("jb,ibc->ijc", b, out)
    return np.einsum("kc,ijc->ijk", c, out)


def smooth_field(rng: np.random.Generator, shape: Sequence[int], spacing_vox: float) -> np.ndarray:
    """A smooth Gaussian random field of unit SD: white noise on a coarse grid, smoothed, upsampled."""
    coarse_shape = [max(3, int(np.ceil(n / spacing_vox)) + 1) for n in shape]
    coarse = ndimage.gaussian_filter(rng.standard_normal(coarse_shape), 1.0, mode="wrap")
    coarse = (coarse - coarse.mean()) / (coarse.std() + 1e-12)
    return upsample(coarse, shape)


def _voxel_mm(atlas: Atlas) -> float:
    return float(abs(atlas.affine[0, 0]))


def region_weights(atlas: Atlas, regions: dict[str, float]) -> np.ndarray:
    """A share-of-severity map from {full VOI name: share} (posterior-graded where it applies)."""
    w = np.zeros(atlas.shape, np.float32)
    lut = np.zeros(256, np.float32)
    graded: list[tuple[int, float]] = []
    for name, share in regions.items():
        lab = voi.LABELS[name]
        if name.rsplit("_", 1)[0] in POSTERIOR_GRADED:
            graded.append((lab, share))
        else:
            lut[lab] = share
    w[:] = lut[atlas.labels]
    if graded:
        # MNI y of each j index; full share behind y = -40 mm, a fifth of it at the pole (y = +10).
        y = atlas.affine[1, 1] * np.arange(atlas.shape[1]) + atlas.affine[1, 3]
        ramp = np.clip((10.0 - y) / 50.0, 0.2, 1.0).astype(np.float32)[None, :, None]
        for lab, share in graded:
            m = atlas.labels == lab
            w[m] = (share * np.broadcast_to(ramp, atlas.shape))[m]
    return w


def _smooth_weights(w: np.ndarray, edge_fwhm_mm: float, voxel_mm: float) -> np.ndarray:
    if edge_fwhm_mm <= 0:
        return w
    sigma = edge_fwhm_mm / 2.3548 / voxel_mm
    return ndimage.gaussian_filter(w, sigma, mode="constant", truncate=3.0)


def apply_reduction(activity: np.ndarray, atlas: Atlas, vois: Sequence[str], fraction: float,
                    edge_fwhm_mm: float = 0.0) -> np.ndarray:
    """``activity`` with counts lowered by ``fraction`` in the union of ``vois`` (full VOI names).

    Hard edges by default: the paper's simulation protocol lowers every voxel of the VOI
    uniformly; ``edge_fwhm_mm`` > 0 smooths the edge instead. Returns a new float32 array.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    unknown = [v for v in vois if v not in voi.LABELS]
    if unknown:
        raise ValueError(f"unknown VOI name(s) {unknown}; valid names are {sorted(voi.LABELS)}")
    if activity.shape != atlas.shape:
        raise ValueError(f"activity shape {activity.shape} is not the atlas grid {atlas.shape}")
    w = _smooth_weights(atlas.voi_mask(list(vois)).astype(np.float32), edge_fwhm_mm, _voxel_mm(atlas))
    return (activity * (1.0 - np.float32(fraction) * w)).astype(np.float32)


def disease_regions(rng: np.random.Generator, label: str, severity: float, variant: str,
                    ) -> tuple[dict[str, float], dict[str, Any]]:
    """{full VOI name: fractional reduction} of one disease instance, and what was drawn."""
    if label == "NC":
        return {}, {}
    if variant not in variants_for(label):   # before any draw: valid variants keep their draws
        owner = next((other for other, asked in ASKED_VARIANTS.items() if variant in asked), None)
        kind = f"{'an' if owner == 'AD' else 'a'} {owner} variant" if owner else "not a world A variant"
        raise ValueError(f"variant {variant!r} is {kind}; {label} has none of it")
    pattern = dict(AD_PATTERN if label == "AD" else DLB_PATTERN)
    early = AD_EARLY if label == "AD" else DLB_EARLY
    drawn: dict[str, Any] = {}
    if label == "DLB":
        parietal = bool(rng.random() < DLB_PARIETAL_P)
        pscale = float(rng.uniform(0.5, 1.0)) if parietal else 0.0
        drawn["parietal_involvement"] = round(pscale, 4)
        for base, share in DLB_PARIETAL.items():
            if parietal:
                pattern[base] = share * pscale
        if variant == "occipital_spared_v1":
            v1 = float(rng.uniform(*DLB_V1_SHARE))
            pattern.update({b: pattern[b] * v1 for b in DLB_EARLY})   # the medial occipital (V1) sites
            drawn["v1_share"] = round(v1, 4)
        elif variant == "no_cingulate_island":
            cis = float(rng.uniform(*DLB_CINGULATE_SHARE))
            pattern["posterior_cingulate"] = cis
            drawn["cingulate_share"] = round(cis, 4)
    elif variant == "early":
        pattern = {b: s for b, s in pattern.items() if b in AD_EARLY}
    if variant == "partial":
        others = [b for b in pattern if b not in early and pattern[b] >= 0.3]
        keep = rng.permutation(len(others))[: max(1, len(others) // 2)]
        kept = set(early) | {others[i] for i in sorted(keep)}
        pattern = {b: s for b, s in pattern.items() if b in kept or s < 0.3}
        drawn["kept"] = sorted(kept)
    side = {"L": 1.0, "R": 1.0}
    if variant == "asymmetric":
        weak = "L" if rng.random() < 0.5 else "R"
        side[weak] = float(rng.uniform(0.35, 0.7))
        drawn["weaker_side"] = weak
    drawn["side_factor"] = side
    regions = {f"{b}_{s}": round(severity * share * side[s], 6)
               for b, share in pattern.items() for s in voi.SIDES if share * side[s] > 0}
    return regions, drawn


def _deform(act: np.ndarray, atlas: Atlas, rng: np.random.Generator, o: SubjectOptions,
            ) -> tuple[np.ndarray, dict[str, Any]]:
    """Warp ``act`` by a smooth random displacement plus a small per-axis scaling."""
    vox = _voxel_mm(atlas)
    scale = np.array([_uniform(rng, o.scale) for _ in range(3)])
    rms = _uniform(rng, o.deformation_rms_mm)
    # The warp changes only voxels near the brain: work in its bounding box (plus margin).
    idx = np.argwhere(atlas.brain)
    lo = np.maximum(idx.min(0) - 8, 0)
    hi = np.minimum(idx.max(0) + 9, atlas.shape)
    box = tuple(int(h - l) for l, h in zip(lo, hi))
    disp = np.stack([smooth_field(rng, box, o.deformation_mm / vox) for _ in range(3)])
    disp *= np.float32(rms / vox / np.sqrt(3.0))        # rms of the vector length, in voxels
    centre = idx.mean(0)
    grids = np.meshgrid(*[np.arange(l, h, dtype=np.float32) for l, h in zip(lo, hi)], indexing="ij")
    coords = np.stack([(g - c) / s + c for g, c, s in zip(grids, centre, scale)]) + disp
    out = np.zeros_like(act)
    out[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = ndimage.map_coordinates(
        act, coords, order=1, mode="constant", cval=0.0, prefilter=False)
    length = np.sqrt((disp ** 2).sum(0)) * vox
    info = {"rms_mm": round(float(np.sqrt((length ** 2).mean())), 3),
            "max_mm": round(float(length.max()), 3), "scale": [round(float(s), 4) for s in scale]}
    return out, info


def simulate_subject(rng: np.random.Generator, label: str, options: SubjectOptions | None = None,
                     atlas: Atlas | None = None, lesions: Sequence[tuple[Sequence[str], float]] = (),
                     ) -> tuple[np.ndarray, dict[str, Any]]:
    """(activity on the atlas grid, truth) for one subject of class ``label``.

    The subject's own variability is drawn first from ``rng`` and the disease from a child
    generator spawned afterwards, so the same seed gives the same subject for every label (a
    paired NC/AD/DLB design). ``lesions`` adds known hard-edged reductions (VOIs, fraction), as
    in the paper's simulation protocol, on top of the label's pattern.
    """
    if label not in CLASS_LABELS:
        raise ValueError(f"label must be one of {', '.join(CLASS_LABELS)}, got {label!r}")
    o = options or SubjectOptions()
    atlas = atlas or load_atlas()
    vox = _voxel_mm(atlas)
    disease_rng = rng.spawn(1)[0]

    # Subject variability (independent of the label).
    age_range = o.age or ((55.0, 85.0) if label == "NC" else (62.0, 88.0))
    age = _uniform(rng, age_range)
    global_level = _uniform(rng, o.global_level)
    het_sd = _uniform(rng, o.heterogeneity_sd)
    hetero = 1.0 + np.float32(het_sd) * smooth_field(rng, atlas.shape, o.heterogeneity_mm / vox)
    frontal = float(np.clip(o.frontal_per_decade * (age - 45.0) / 10.0 * rng.uniform(0.5, 1.5), 0, 0.1))
    deform_rng = rng.spawn(1)[0]

    # Disease.
    variant = "none"
    severity = 0.0
    regions: dict[str, float] = {}
    drawn: dict[str, Any] = {}
    if label != "NC":
        variant = o.variant or str(disease_rng.choice(VARIANTS, p=_VARIANT_P))
        severity = _uniform(disease_rng, o.severity)
        if variant == "mild":
            severity = o.severity[0] * float(disease_rng.uniform(0.4, 0.8))
        regions, drawn = disease_regions(disease_rng, label, severity, variant)

    # Reduction map: disease and frontal (smooth edges), then known lesions (hard edges).
    aging = {f"{b}_{s}": frontal * w for b, w in age_regions(o.normal_pattern).items() for s in voi.SIDES}
    share = region_weights(atlas, {**regions, **aging})
    reduction = _smooth_weights(share, o.edge_fwhm_mm, vox)
    base = base_activity(atlas)
    normal = pattern_factor(atlas, o.normal_pattern)
    if normal is not None:   # the published normal pattern (no random draw: same subject)
        base = base * normal
    factor = tracer_factor(atlas, o.tracer)
    if factor is not None:   # another tracer's regional distribution (no random draw: same subject)
        base = base * factor
    act = base * hetero * (1.0 - reduction)
    for vois, fraction in lesions:
        act = apply_reduction(act, atlas, list(vois), float(fraction))

    # Effective reduction per VOI as the pipeline would see it: activity-weighted VOI mean.
    noted = sorted(set(regions) | {v for vois, _ in lesions for v in vois})
    effective = {}
    if noted:
        ids = [voi.LABELS[n] for n in noted]
        num = ndimage.sum_labels(act, atlas.labels, ids)
        den = ndimage.sum_labels(base * hetero, atlas.labels, ids)
        effective = {n: round(float(1 - a / b), 4) for n, a, b in zip(noted, num, den)}

    deformation: dict[str, Any] = {"applied": False}
    if o.deform:
        act, deformation = _deform(act, atlas, deform_rng, o)
        deformation["applied"] = True
    act = (act * np.float32(global_level)).astype(np.float32)

    truth = {
        "label": label,
        "tracer": o.tracer,
        "pattern": {"NC": "none", "AD": "temporoparietal", "DLB": "occipital"}[label],
        "variant": variant,
        "severity": round(severity, 4),
        "regions": regions,
        "effective_reduction": effective,
        "lesions": [{"vois": list(v), "fraction": float(f)} for v, f in lesions],
        "disease_draws": drawn,
        "age": round(age, 1),
        "global_level": round(global_level, 4),
        "heterogeneity_sd": round(het_sd, 4),
        "frontal_reduction": round(frontal, 4),
        "deformation": deformation,
        "edge_fwhm_mm": o.edge_fwhm_mm,
    }
    if o.normal_pattern != "phantom":   # additive: the default truth stays as it was
        truth["normal_pattern"] = o.normal_pattern
    log.debug("subject %s variant=%s severity=%.3f", label, variant, severity)
    return act, truth
