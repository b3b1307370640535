"""Training data simulated from a normal database (the seed paper's key idea).

Real DLB cases are too few to train on, so disease images are made from the site's normal
members: in MNI space, counts are lowered in disease regions, then the volume goes through
3D-SSP against the normal database *without that member* (its own Z map would otherwise be
optimistically low) and the Z map is rendered as the CNN composite (the 2x2 paper layout or 2x3).

Two protocols:

``paper`` (Yamamoto et al. 2021, exactly): counts lowered uniformly by U(20 %, 35 %) in every
voxel of the AD regions (bilateral angular, superior and inferior parietal, supramarginal,
posterior cingulate, precuneus) or the DLB regions (bilateral superior, middle, inferior
occipital, cuneus, lingual); hard VOI edges; NC images from the members' leave-one-out maps;
Z display thresholds (lower, upper) varied and all four reference regions used to multiply the
images; 369 images per class, 28 per class held out for validation.

``ours`` (default), aimed at the domain gap the paper found (validation 0.96, test 0.68):
graded severity down to mild, partial and asymmetric patterns, per-region jitter, posterior
temporal involvement in some AD, parietal involvement in most DLB with the posterior cingulate
spared (cingulate island sign), smooth lesion edges, non-specific mild decreases elsewhere in
every class (so a decrease alone is no disease cue), smooth regional variation of a few
percent in every class (so a new normal's fluctuation is no disease cue), and extra blur and
noise of the member volume before SSP in every class (so image quality is no class cue). Every knob is a field of
:class:`SimulationConfig` and a ``training.simulation`` key in config.yaml.

Since simulation version 3 (issue 17, after the bundled model failed DLB on an independently
built world) ``ours`` also draws the DLB variants the clinical literature describes beyond the
typical one (primary visual cortex relatively spared; posterior cingulate involved, i.e. no
cingulate island sign) and randomises what is not disease (:mod:`models.randomise`): lesion
shapes warped off the atlas edges, lesion edge width and inner texture, another normal regional
uptake pattern per image, and a small residual misregistration.

Validation images come from held-out members only, the same members in every class, so no
member's anatomy leaks between training and validation. Data sets are built once and cached on
disk (``data.npz`` + ``manifest.json`` with counts, seeds and hashes).
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage
from tqdm import tqdm

from atlas import Atlas, voi
from atlas.analysis import SSPAnalyser
from atlas.normaldb import NormalDatabase
from atlas.render.composite import composite, get_layout
from models import CLASSES
from models.features import RegionFeatures
from models.randomise import (FWHM_PER_SIGMA, misregister, regional_ratios, smooth_random_field, textured,
                              warp_smoothly)

log = logging.getLogger(__name__)

SIM_VERSION = 3           # bump when the simulation changes what a config produces
PROTOCOLS = ("paper", "ours")
REFERENCES = ("GLB", "THL", "PNS", "CBL")
# The paper varies the display thresholds without listing them: lower 0, 1 or 2 (NEUROSTAT
# shows 1 to 5; 0 to 5 and 0 to 7 are common), upper 5 or 7.
DISPLAY_RANGES: tuple[tuple[float, float], ...] = ((0.0, 5.0), (1.0, 5.0), (2.0, 5.0),
                                                   (0.0, 7.0), (1.0, 7.0), (2.0, 7.0))

# Ours: disease patterns, {VOI base name: share of the severity}.
AD_CORE = {"angular": 1.0, "inferior_parietal": 1.0, "supramarginal": 0.9, "superior_parietal": 0.8,
           "precuneus": 0.9, "posterior_cingulate": 1.0}
AD_EARLY = ("posterior_cingulate", "precuneus")      # always kept in partial patterns
AD_TEMPORAL = "lateral_temporal"
DLB_CORE = {"cuneus": 1.0, "lingual": 0.9, "superior_occipital": 0.95, "middle_occipital": 0.95,
            "inferior_occipital": 0.8}
DLB_EARLY = ("cuneus", "lingual")
# The medial occipital cortex along the calcarine sulcus (primary visual cortex: AAL's cuneus with
# calcarine, and lingual) is relatively spared in some DLB (Imamura 1999, Lobotesis 2001 found
# the lateral occipital association cortex more consistently affected); then the lateral
# occipital regions are the early ones.
DLB_MEDIAL = ("cuneus", "lingual")
DLB_LATERAL = ("superior_occipital", "middle_occipital", "inferior_occipital")
DLB_PARIETAL = ("angular", "inferior_parietal", "superior_parietal", "supramarginal", "precuneus")
# Non-specific mild decreases that occur in every class (age, vascular, frontal variants).
DISTRACTOR_REGIONS = ("frontal", "anterior_cingulate", "sensorimotor", "insula", "middle_cingulate")

RATIO_EDGE_FWHM_MM = 8.0      # regional uptake ratios change smoothly across a region's edge
LESION_WARP_FWHM_MM = 30.0    # smoothness of the lesion-shape displacement field
LESION_TEXTURE_FWHM_MM = 16.0  # smoothness of the deficit's depth inside a region


def _symmetric_groups() -> np.ndarray:
    """Label -> group: both sides of a region share a group (background 0)."""
    def base(name: str) -> str:
        return name[:-2] if name.endswith(tuple(f"_{s}" for s in voi.SIDES)) else name

    index = {b: i + 1 for i, b in enumerate(sorted({base(n) for n in voi.LABELS}))}
    groups = np.zeros(max(voi.LABELS.values()) + 1, np.int64)
    for name, label in voi.LABELS.items():
        groups[label] = index[base(name)]
    return groups


SYMMETRIC_GROUPS = _symmetric_groups()

GENERAL_KEYS = {"protocol", "images_per_class", "validation_per_class", "image_size", "views", "seed",
                "references", "display_ranges"}


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that decides a simulated data set (its hash names the cache entry)."""

    protocol: str = "ours"
    images_per_class: int = 369           # including the validation images (paper: 369)
    validation_per_class: int = 28        # from held-out members (paper: 28)
    image_size: int = 227                 # composite height, pixels (AlexNet input)
    views: str = "2x2"                    # composite layout (atlas.render.composite.LAYOUTS)
    seed: int = 2021
    references: tuple[str, ...] = REFERENCES
    display_ranges: tuple[tuple[float, float], ...] = DISPLAY_RANGES
    # disease severity: fractional count reduction at full regional share, drawn uniformly
    severity: tuple[float, float] = (0.08, 0.35)
    edge_fwhm_mm: float = 8.0             # smooth lesion edges (0: hard VOI edges, the paper)
    # A lesion is blurred by the camera like everything else: on a harmonised database the
    # edge is widened to sqrt(edge^2 + database FWHM^2), as a patient's harmonised lesion is.
    edge_at_database_resolution: bool = True
    partial_p: float = 0.3                # only the early regions plus a random half of the rest
    asymmetric_p: float = 0.3             # one hemisphere weaker
    asymmetry: tuple[float, float] = (0.3, 0.8)   # weaker side's factor
    region_jitter: float = 0.3            # each region's share times U(1 - jitter, 1)
    ad_temporal_p: float = 0.5            # AD also in the (posterior) lateral temporal cortex
    ad_temporal_share: tuple[float, float] = (0.3, 0.6)
    # AD confined to its earliest sites, the posterior cingulate and precuneus (Minoshima 1997;
    # the "early" pattern). Off by default: `partial` already keeps them, but leaves the
    # others out only about 1 % of the time; drawn only when above 0, so recipes without it keep
    # their random stream, their images and their cache keys.
    ad_early_p: float = 0.0
    dlb_parietal_p: float = 0.6           # DLB also in the parietal association cortex
    dlb_parietal_share: tuple[float, float] = (0.3, 1.0)
    dlb_cingulate_share: tuple[float, float] = (0.0, 0.15)  # posterior cingulate spared (CIS)
    # ... but not in every DLB: the cingulate island sign is absent in a part of the patients
    # (Lim 2009: sensitivity about 0.6-0.8), so the posterior cingulate is involved then
    dlb_cingulate_involved_p: float = 0.25
    dlb_cingulate_involved_share: tuple[float, float] = (0.4, 0.9)
    dlb_spared_v1_p: float = 0.25         # medial occipital (V1) relatively spared ...
    dlb_v1_share: tuple[float, float] = (0.0, 0.3)  # ... at this share of the severity
    distractor_p: float = 0.25            # every class: a mild non-specific decrease elsewhere
    distractor_severity: tuple[float, float] = (0.04, 0.12)
    blur_fwhm_mm: tuple[float, float] = (0.0, 8.0)   # extra Gaussian blur before SSP
    noise_sd: tuple[float, float] = (0.0, 0.04)      # relative, spatially correlated noise ...
    noise_fwhm_mm: float = 8.0                       # ... at this FWHM (harmonised patient noise is smooth)
    # Normal regional variation beyond the database's own members: a smooth multiplicative
    # random field in every class, so that a few-percent regional fluctuation (which a new
    # normal subject shows wherever it falls, parietal cortex included) is no disease cue.
    variation_sd: tuple[float, float] = (0.0, 0.05)  # relative SD of the field, drawn per image
    variation_fwhm_mm: float = 24.0                  # its smoothness
    # Domain randomisation (models/randomise.py): nothing below carries a class.
    edge_fwhm_extra_mm: tuple[float, float] = (0.0, 8.0)  # each lesion's edge: edge_fwhm_mm + U(extra)
    region_warp_mm: tuple[float, float] = (0.0, 5.0)      # lesion shape: smooth displacement SD
    lesion_texture_sd: tuple[float, float] = (0.0, 0.4)   # deficit depth varies inside a region
    regional_ratio_sd: tuple[float, float] = (0.0, 0.04)  # another normal uptake ratio per atlas region
    # Another world's normal pattern (optional, off by default): one factor per region shared by both sides, so
    # the whole normal pattern shifts symmetrically against the database, as it does between
    # populations, tracers and simulators (published normal ratios differ from our phantom's by
    # 3-11 % over most of the cortex and 25 % in the medial temporal lobe: docs/phantom-calibration.md).
    pattern_shift_sd: tuple[float, float] = (0.0, 0.0)   # off by default: measured, see docs/classifier.md
    misregistration_mm: float = 2.0       # residual registration error: shift up to this ...
    misregistration_deg: float = 2.0      # ... rotation up to this about each axis ...
    misregistration_scale: float = 0.02   # ... and scaling up to this per axis

    @classmethod
    def for_protocol(cls, protocol: str, **overrides: Any) -> "SimulationConfig":
        """The protocol's settings; ``paper`` accepts only the general keys (it is fixed)."""
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
        overrides = {k: v for k, v in overrides.items() if v is not None}
        if protocol == "paper":
            extra = sorted(set(overrides) - GENERAL_KEYS)
            if extra:
                raise ValueError(f"the paper protocol is fixed; {extra[0]!r} applies to --protocol ours only")
            base = dict(severity=(0.20, 0.35), edge_fwhm_mm=0.0, edge_at_database_resolution=False,
                        partial_p=0.0, asymmetric_p=0.0,
                        region_jitter=0.0, ad_temporal_p=0.0, ad_early_p=0.0, dlb_parietal_p=0.0,
                        dlb_cingulate_share=(0.0, 0.0), dlb_cingulate_involved_p=0.0, dlb_spared_v1_p=0.0,
                        distractor_p=0.0, blur_fwhm_mm=(0.0, 0.0),
                        noise_sd=(0.0, 0.0), variation_sd=(0.0, 0.0), edge_fwhm_extra_mm=(0.0, 0.0),
                        region_warp_mm=(0.0, 0.0), lesion_texture_sd=(0.0, 0.0),
                        regional_ratio_sd=(0.0, 0.0), pattern_shift_sd=(0.0, 0.0), misregistration_mm=0.0, misregistration_deg=0.0,
                        misregistration_scale=0.0)
        else:
            base = {}
        cfg = cls(**{**base, **_tuples(overrides), "protocol": protocol})
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if self.images_per_class < 2 or not 1 <= self.validation_per_class < self.images_per_class:
            raise ValueError("need images_per_class >= 2 and 1 <= validation_per_class < images_per_class")
        if self.image_size < 32:
            raise ValueError("image_size must be at least 32 pixels")
        get_layout(self.views)
        bad = [r for r in self.references if r not in REFERENCES]
        if bad or not self.references:
            raise ValueError(f"references must be drawn from {', '.join(REFERENCES)}")
        if not self.display_ranges or any(lo >= hi or lo < 0 for lo, hi in self.display_ranges):
            raise ValueError("display_ranges must be (lower, upper) pairs with 0 <= lower < upper")
        lo, hi = self.severity
        if not 0 < lo <= hi < 1:
            raise ValueError(f"severity must satisfy 0 < min <= max < 1, got {self.severity}")
        for name in ("partial_p", "asymmetric_p", "region_jitter", "ad_temporal_p", "dlb_parietal_p", "distractor_p",
                     "dlb_cingulate_involved_p", "dlb_spared_v1_p", "ad_early_p"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1")

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def key(self, ndb_sha: str, atlas_sha: str) -> str:
        # a setting added later is left out at its neutral value: older data sets keep their keys
        config = {k: v for k, v in self.as_dict().items() if _KEY_NEUTRAL.get(k, _NOT_NEUTRAL) != v}
        blob = json.dumps({"config": config, "ndb": ndb_sha, "atlas": atlas_sha, "v": SIM_VERSION}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


_NOT_NEUTRAL = object()
# settings added after data sets were cached, with the value every earlier data set had
_KEY_NEUTRAL: dict[str, Any] = {"views": "2x2", "ad_early_p": 0.0}


def _tuples(d: dict[str, Any]) -> dict[str, Any]:
    """JSON/YAML lists back to the tuples the frozen dataclass hashes."""
    out = {}
    for k, v in d.items():
        if isinstance(v, list):
            v = tuple(tuple(x) if isinstance(x, list) else x for x in v)
        out[k] = v
    return out


@dataclass
class SimDataset:
    """Images and labels of one simulated data set, with what made each image."""

    images: np.ndarray        # (N, H, W, 3) uint8 composites (H: image_size, W: by the layout)
    labels: np.ndarray        # (N,) int64 index into CLASSES
    member: np.ndarray        # (N,) int32 source member of the normal database
    split: np.ndarray         # (N,) int8: 0 training, 1 validation
    reference: np.ndarray     # (N,) int8 index into manifest["config"]["references"]
    z_range: np.ndarray       # (N, 2) float32 display thresholds
    severity: np.ndarray      # (N,) float32 drawn severity (0 for NC)
    features: np.ndarray      # (N, F) float32 regional mean Z (all references)
    manifest: dict[str, Any] = field(default_factory=dict)

    def subset(self, which: str) -> np.ndarray:
        """Indices of the ``training`` or ``validation`` images."""
        code = {"training": 0, "validation": 1}[which]
        return np.flatnonzero(self.split == code)


# -- the numeric core -----------------------------------------------------------------------
def member_volume(ndb: NormalDatabase, atlas: Atlas, k: int) -> np.ndarray:
    """Member ``k``'s registered volume on the atlas grid (scaled to its GLB mean), at the
    database's harmonised resolution when it has one."""
    if ndb.volumes is None:
        raise ValueError("this normal database holds no member volumes; rebuild it with "
                         "'spectssp normaldb build' (volumes are kept by default)")
    mask = atlas.volume_mask(ndb.volume_margin_mm)
    if ndb.volumes.shape[1] != int(mask.sum()):
        raise ValueError(f"the normal database's member volumes ({ndb.volumes.shape[1]} voxels) do not fit this "
                         f"atlas ({int(mask.sum())} voxels within {ndb.volume_margin_mm:g} mm of the brain); "
                         "rebuild it with 'spectssp normaldb build'")
    vol = np.zeros(atlas.shape, np.float32)
    vol[mask] = ndb.volumes[k].astype(np.float32)
    return vol


def lower_counts(volume: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``volume * (1 - weights)``: weights are the fractional reduction per voxel."""
    if weights.shape != volume.shape:
        raise ValueError("weights must be on the volume's grid")
    return (volume * (1.0 - np.clip(weights, 0.0, 0.95))).astype(np.float32)


def reduction_map(atlas: Atlas, regions: dict[str, float], edge_fwhm_mm: float) -> np.ndarray:
    """Per-voxel fractional reduction from {full VOI name: fraction}; smoothed edges in MNI space."""
    return smooth_edges(region_weights(atlas, regions), edge_fwhm_mm, atlas.voxel_mm)


def region_weights(atlas: Atlas, regions: dict[str, float]) -> np.ndarray:
    """{full VOI name: fraction} painted into the VOIs, hard edges."""
    lut = np.zeros(256, np.float32)
    for name, frac in regions.items():
        lut[voi.LABELS[name]] = max(lut[voi.LABELS[name]], float(frac))
    return lut[atlas.labels]


def smooth_edges(weights: np.ndarray, edge_fwhm_mm: float, voxel_mm: float) -> np.ndarray:
    if edge_fwhm_mm <= 0:
        return weights
    return ndimage.gaussian_filter(weights, edge_fwhm_mm / FWHM_PER_SIGMA / voxel_mm, mode="constant", truncate=3.0)


def paper_regions(label: str, fraction: float) -> dict[str, float]:
    """The paper's uniform reduction of the AD or DLB regions (bilateral)."""
    names = voi.AD_REGIONS if label == "AD" else voi.DLB_REGIONS
    return {n: float(fraction) for n in names}


def ours_regions(rng: np.random.Generator, label: str, cfg: SimulationConfig) -> tuple[dict[str, float], dict[str, Any]]:
    """One disease instance of our protocol: {full VOI name: fraction} and what was drawn."""
    severity = float(rng.uniform(*cfg.severity))
    drawn: dict[str, Any] = {"severity": round(severity, 4)}
    if label == "AD":
        pattern = dict(AD_CORE)
        early = AD_EARLY
        if rng.random() < cfg.ad_temporal_p:
            pattern[AD_TEMPORAL] = float(rng.uniform(*cfg.ad_temporal_share))
        if cfg.ad_early_p > 0 and rng.random() < cfg.ad_early_p:
            # after the temporal draw and before the partial one, which then change nothing but keep
            # their places in the random stream
            pattern = {b: s for b, s in pattern.items() if b in AD_EARLY}
            drawn["early_only"] = True
    else:
        pattern = dict(DLB_CORE)
        early = DLB_EARLY
        if rng.random() < cfg.dlb_spared_v1_p:
            v1 = float(rng.uniform(*cfg.dlb_v1_share))
            pattern.update({b: pattern[b] * v1 for b in DLB_MEDIAL})
            early = DLB_LATERAL
            drawn["v1_share"] = round(v1, 3)
        if rng.random() < cfg.dlb_parietal_p:
            share = float(rng.uniform(*cfg.dlb_parietal_share))
            pattern.update({b: share for b in DLB_PARIETAL})
            drawn["parietal_share"] = round(share, 3)
        if rng.random() < cfg.dlb_cingulate_involved_p:
            cis = float(rng.uniform(*cfg.dlb_cingulate_involved_share))
            drawn["cingulate_share"] = round(cis, 3)
        else:
            cis = float(rng.uniform(*cfg.dlb_cingulate_share))
        if cis > 0:
            pattern["posterior_cingulate"] = cis
    if rng.random() < cfg.partial_p:
        others = [b for b in pattern if b not in early]
        kept = set(early) | {b for b in others if rng.random() < 0.5}
        pattern = {b: s for b, s in pattern.items() if b in kept}
        drawn["partial"] = sorted(kept)
    side = {"L": 1.0, "R": 1.0}
    if rng.random() < cfg.asymmetric_p:
        weak = "L" if rng.random() < 0.5 else "R"
        side[weak] = float(rng.uniform(*cfg.asymmetry))
        drawn["weaker_side"] = weak
    out = {}
    for b, share in pattern.items():
        for s in voi.SIDES:
            jitter = 1.0 - cfg.region_jitter * float(rng.random())
            out[f"{b}_{s}"] = severity * share * side[s] * jitter
    return out, drawn


def distractor_regions(rng: np.random.Generator, cfg: SimulationConfig) -> dict[str, float]:
    """A mild non-specific decrease in one region outside both disease patterns (any class)."""
    if rng.random() >= cfg.distractor_p:
        return {}
    base = DISTRACTOR_REGIONS[int(rng.integers(len(DISTRACTOR_REGIONS)))]
    sev = float(rng.uniform(*cfg.distractor_severity))
    sides = list(voi.SIDES) if rng.random() < 0.5 else [voi.SIDES[int(rng.integers(2))]]
    return {f"{base}_{s}": sev for s in sides}


def degrade(volume: np.ndarray, brain: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
            cfg: SimulationConfig, voxel_mm: float) -> tuple[np.ndarray, dict[str, float]]:
    """Another normal pattern (regional ratios, smooth variation), extra blur (resolution),
    correlated noise (counts) and a residual misregistration, before SSP."""
    var, fwhm, sd = _draw(rng, cfg.variation_sd), _draw(rng, cfg.blur_fwhm_mm), _draw(rng, cfg.noise_sd)
    out = volume
    ratio_sd = _draw(rng, cfg.regional_ratio_sd)
    edge_sigma = RATIO_EDGE_FWHM_MM / FWHM_PER_SIGMA / voxel_mm
    if ratio_sd > 0:
        out = out * regional_ratios(labels, rng, ratio_sd, edge_sigma)
    shift_sd = _draw(rng, cfg.pattern_shift_sd)
    if shift_sd > 0:
        out = out * regional_ratios(labels, rng, shift_sd, edge_sigma, groups=SYMMETRIC_GROUPS)
    if var > 0:
        out = out * (1.0 + np.float32(var) * smooth_random_field(rng, volume.shape, brain,
                                                                  cfg.variation_fwhm_mm / voxel_mm))
    if fwhm > 0.5:
        out = ndimage.gaussian_filter(out, fwhm / FWHM_PER_SIGMA / voxel_mm, truncate=3.0)
    if sd > 0:
        out = out * (1.0 + np.float32(sd) * smooth_random_field(rng, volume.shape, brain, cfg.noise_fwhm_mm / voxel_mm))
    out, moved = misregister(out, rng, cfg.misregistration_mm / voxel_mm, cfg.misregistration_deg,
                             cfg.misregistration_scale)
    out = np.where(brain, np.maximum(out, 1e-3), 0.0).astype(np.float32)
    drawn = {"variation_sd": round(var, 4), "blur_fwhm_mm": round(fwhm, 2), "noise_sd": round(sd, 4)}
    if ratio_sd > 0:
        drawn["regional_ratio_sd"] = round(ratio_sd, 4)
    if shift_sd > 0:
        drawn["pattern_shift_sd"] = round(shift_sd, 4)
    return out, {**drawn, **moved}


def _draw(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """U(bounds), or 0 without touching ``rng`` when the knob is off (older data sets unchanged)."""
    return float(rng.uniform(*bounds)) if bounds[1] > 0 else 0.0


def allocate(n_members: int, cfg: SimulationConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(held-out member indices, images per member per class): validation by member.

    The number of held-out members follows the validation share (28 of 369 of 28 members: 2);
    the validation images are spread over them and the training images over the rest.
    """
    if n_members < 3:
        raise ValueError(f"simulation needs a normal database of at least 3 members, got {n_members}")
    n_val = int(np.clip(round(n_members * cfg.validation_per_class / cfg.images_per_class), 1, n_members - 2))
    val = np.sort(rng.permutation(n_members)[:n_val])
    train = np.setdiff1d(np.arange(n_members), val)
    counts = np.zeros(n_members, np.int64)
    counts[val] = _spread(cfg.validation_per_class, n_val)
    counts[train] = _spread(cfg.images_per_class - cfg.validation_per_class, train.size)
    return val, counts


def _spread(total: int, n: int) -> np.ndarray:
    c = np.full(n, total // n, np.int64)
    c[: total % n] += 1
    return c


class Simulator:
    """Makes the images of one data set; numpy only, deterministic per (seed, class, member, j)."""

    def __init__(self, atlas: Atlas, ndb: NormalDatabase, cfg: SimulationConfig, depth_mm: float | None = None) -> None:
        cfg.validate()
        self.atlas, self.ndb, self.cfg = atlas, ndb, cfg
        depth = float(depth_mm if depth_mm is not None else ndb.meta.get("depth_mm", 13.5))
        self.analyser = SSPAnalyser(atlas, ndb, depth, 2.0, "GLB")
        self.ref_rows = [list(ndb.references).index(r) for r in cfg.references]
        self.features = RegionFeatures(atlas.pixel_voi, list(ndb.references))
        self.combos = [(ri, zr) for ri in range(len(cfg.references)) for zr in range(len(cfg.display_ranges))]

    def z_map(self, volume: np.ndarray, loo: NormalDatabase) -> np.ndarray:
        """(R, P) decrease Z of ``volume`` against ``loo`` (the database without its source)."""
        # member volumes are stored at the database's resolution already: measured as they are
        raw, means = self.analyser.measure(volume)
        return self.analyser.from_raw(raw, means, ndb=loo).z

    def volume_for(self, label: str, base: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
        """The member volume with the class's simulated disease (NC: unchanged but for degradation)."""
        cfg = self.cfg
        info: dict[str, Any] = {}
        if cfg.protocol == "paper":
            if label == "NC":
                return base, {"severity": 0.0}
            frac = float(rng.uniform(*cfg.severity))
            w = reduction_map(self.atlas, paper_regions(label, frac), 0.0)
            return lower_counts(base, w), {"severity": round(frac, 4)}
        regions: dict[str, float] = {}
        if label != "NC":
            regions, info = ours_regions(rng, label, cfg)
        else:
            info["severity"] = 0.0
        distract = distractor_regions(rng, cfg)
        if distract:
            info["distractor"] = sorted(distract)
        vol = base
        if regions or distract:
            both = {k: regions.get(k, 0.0) + distract.get(k, 0.0) for k in {*regions, *distract}}
            w, shape = self.lesion_weights(both, rng)
            info.update(shape)
            vol = lower_counts(base, w)
        vol, qual = degrade(vol, self.atlas.brain, self.atlas.labels, rng, cfg, self.atlas.voxel_mm)
        info.update(qual)
        return vol, info

    def lesion_weights(self, regions: dict[str, float], rng: np.random.Generator) -> tuple[np.ndarray, dict[str, float]]:
        """Per-voxel reduction of ``regions`` with a randomised shape, texture and edge width."""
        cfg, atlas = self.cfg, self.atlas
        warp, texture, extra = (_draw(rng, cfg.region_warp_mm), _draw(rng, cfg.lesion_texture_sd),
                                _draw(rng, cfg.edge_fwhm_extra_mm))
        w = region_weights(atlas, regions)
        w = warp_smoothly(w, rng, atlas.brain, warp / atlas.voxel_mm, LESION_WARP_FWHM_MM / atlas.voxel_mm)
        w = textured(w, rng, atlas.brain, texture, LESION_TEXTURE_FWHM_MM / atlas.voxel_mm)
        edge = cfg.edge_fwhm_mm + extra
        target = self.ndb.resolution_fwhm_mm
        if cfg.edge_at_database_resolution and target is not None:
            edge = float(np.hypot(edge, target))
        drawn = {k: round(v, 3) for k, v in (("warp_mm", warp), ("texture_sd", texture), ("edge_extra_mm", extra)) if v > 0}
        return smooth_edges(w, edge, atlas.voxel_mm), drawn

    def build(self, progress: bool = True) -> SimDataset:
        cfg, atlas, ndb = self.cfg, self.atlas, self.ndb
        t0 = time.perf_counter()
        val_members, counts = allocate(ndb.n, cfg, np.random.default_rng([cfg.seed, 999]))
        total = int(counts.sum()) * len(CLASSES)
        S, layout = cfg.image_size, get_layout(cfg.views)
        images = np.zeros((total, *layout.shape(S), 3), np.uint8)
        labels = np.zeros(total, np.int64)
        member = np.zeros(total, np.int32)
        reference = np.zeros(total, np.int8)
        z_range = np.zeros((total, 2), np.float32)
        severity = np.zeros(total, np.float32)
        feats = np.zeros((total, len(self.features.names)), np.float32)
        i = 0
        bar = tqdm(total=total, desc=f"simulate ({cfg.protocol})", unit="img", disable=not progress)
        for k in range(ndb.n):
            loo = ndb.without(k)
            base = member_volume(ndb, atlas, k)
            for ci, label in enumerate(CLASSES):
                order_rng = np.random.default_rng([cfg.seed, ci, k, 0])
                order = order_rng.permutation(len(self.combos))
                for j in range(int(counts[k])):
                    rng = np.random.default_rng([cfg.seed, ci, k, j + 1])
                    vol, info = self.volume_for(label, base, rng)
                    z = self.z_map(vol, loo)
                    ri, zi = self.combos[order[j % len(order)]]
                    lo, hi = cfg.display_ranges[zi]
                    images[i] = composite(atlas.surface, z[self.ref_rows[ri]], lo, hi, S, layout)
                    labels[i], member[i], reference[i] = ci, k, ri
                    z_range[i] = (lo, hi)
                    severity[i] = info.get("severity", 0.0)
                    feats[i] = self.features(z)
                    i += 1
                    bar.update(1)
        bar.close()
        split = np.isin(member, val_members).astype(np.int8)
        manifest = {
            "schema": "spectssp.simdata/1",
            "sim_version": SIM_VERSION,
            "config": cfg.as_dict(),
            "classes": list(CLASSES),
            "normal_database": {"sha256": ndb.sha256(), "n": ndb.n, "tracer": ndb.tracer},
            "atlas_sha256": atlas.sha256,
            "validation_members": [int(m) for m in val_members],
            "counts": {s: {c: int(((split == code) & (labels == ci)).sum()) for ci, c in enumerate(CLASSES)}
                       for s, code in (("training", 0), ("validation", 1))},
            "seeds": {"base": cfg.seed, "image": "SeedSequence([seed, class index, member, j + 1])",
                      "split": "SeedSequence([seed, 999])"},
            "feature_names": self.features.names,
            "images_sha256": hashlib.sha256(images.tobytes()).hexdigest(),
            "labels_sha256": hashlib.sha256(labels.tobytes()).hexdigest(),
            "build_seconds": round(time.perf_counter() - t0, 1),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        return SimDataset(images, labels, member, split, reference, z_range, severity, feats, manifest)


# -- the cache ------------------------------------------------------------------------------
ARRAYS = ("images", "labels", "member", "split", "reference", "z_range", "severity", "features")


def default_cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "spectssp" / "datasets"


def save_dataset(ds: SimDataset, folder: Path) -> None:
    """Write ``data.npz`` and ``manifest.json`` into ``folder`` atomically (temp dir + rename)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    try:
        np.savez_compressed(tmp / "data.npz", **{a: getattr(ds, a) for a in ARRAYS})
        (tmp / "manifest.json").write_text(json.dumps(ds.manifest, indent=1, sort_keys=True))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_dataset(folder: Path) -> SimDataset:
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    with np.load(folder / "data.npz") as z:
        arrays = {a: z[a] for a in ARRAYS}
    ds = SimDataset(**arrays, manifest=manifest)
    if hashlib.sha256(ds.images.tobytes()).hexdigest() != manifest["images_sha256"]:
        raise ValueError(f"cached data set {folder} does not match its manifest (images hash)")
    return ds


def build_or_load(ndb: NormalDatabase, atlas: Atlas, cfg: SimulationConfig, cache_dir: Path | None = None,
                  progress: bool = True) -> tuple[SimDataset, Path]:
    """The data set for (database, atlas, config): from the cache, or simulated and cached."""
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    folder = cache_dir / f"{cfg.protocol}-{cfg.key(ndb.sha256(), atlas.sha256)}"
    if (folder / "manifest.json").is_file():
        try:
            ds = load_dataset(folder)
            log.info("using cached data set %s", folder)
            return ds, folder
        except (OSError, ValueError, KeyError) as exc:
            log.warning("cached data set %s unusable (%s); simulating again", folder, exc)
    ds = Simulator(atlas, ndb, cfg).build(progress=progress)
    save_dataset(ds, folder)
    return ds, folder
