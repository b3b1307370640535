"""Load the shipped standard space once per process (cached)."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from atlas import voi
from atlas.perfusion import activity_map
from atlas.resolution_cache import cached_matcher
from atlas.surface import VIEWS, Surface, pixel_labels, sample_indices

VOLUME_MARGIN_MM = 10.0   # brain + this margin: the voxels a study's resolution shows in

DATA_DIR = Path(__file__).resolve().parent / "data"
# The phantom normal database shipped with the package (demonstration and tests only).
BUNDLED_NORMAL_DATABASE = DATA_DIR / "normal_imp_phantom.ndb"


@dataclass
class Atlas:
    """The MNI 2 mm grid with template, masks, VOI labels and the 3D-SSP surface."""

    affine: np.ndarray          # 4x4 RAS voxel -> mm (nibabel convention)
    template: np.ndarray        # SPECT-like template (float32)
    brain: np.ndarray           # bool brain mask
    labels: np.ndarray          # uint8 VOI labels (atlas.voi.LABELS)
    gm: np.ndarray
    wm: np.ndarray
    surface: Surface
    sha256: str
    _samples: dict = field(default_factory=dict, repr=False)  # per-depth samples, region indices

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.labels.shape)  # type: ignore[return-value]

    @property
    def voxel_mm(self) -> float:
        return float(self.affine[0, 0])

    def voi_mask(self, names: list[str] | tuple[str, ...] | str) -> np.ndarray:
        if isinstance(names, str):
            names = [names]
        return np.isin(self.labels, [voi.LABELS[n] for n in names])

    def reference_mask(self, ref: str) -> np.ndarray:
        vois = voi.REFERENCE_VOIS[ref]
        return self.brain.copy() if not vois else self.voi_mask(vois)

    def reference_indices(self, ref: str) -> np.ndarray:
        """Flat voxel indices of a reference region (GLB, THL, PNS, CBL), cached."""
        key = ("ref", ref)
        if key not in self._samples:
            self._samples[key] = np.flatnonzero(self.reference_mask(ref).ravel())
        return self._samples[key]

    def samples(self, depth_mm: float) -> np.ndarray:
        """(P, D) flat voxel indices for the SSP maximum, cached per depth."""
        key = round(float(depth_mm), 3)
        if key not in self._samples:
            self._samples[key] = sample_indices(self.surface, self.shape, self.voxel_mm, depth_mm, self.brain)
        return self._samples[key]

    @functools.cached_property
    def pixel_voi(self) -> np.ndarray:
        """VOI label per surface pixel (at the default depth of 13.5 mm)."""
        return pixel_labels(self.samples(13.5), self.labels)

    @functools.cached_property
    def perfusion_model(self) -> np.ndarray:
        """The noise-free IMP perfusion model at the atlas's own resolution (the template before
        its smoothing): the sharp reference for estimating a study's resolution."""
        model = activity_map(self.gm, self.wm, self.brain.astype(np.float32), self.labels, voi.LABELS)
        model.setflags(write=False)   # shared by every study of the process
        return model

    def volume_mask(self, margin_mm: float) -> np.ndarray:
        """The brain mask grown by round(margin / voxel) binary dilation steps (cached per margin;
        ``margin_mm`` along the axes, less diagonally): where counts that spill across the brain
        edge still belong to the study."""
        key = ("margin", round(float(margin_mm), 3))
        if key not in self._samples:
            from scipy import ndimage  # deferred: scipy.ndimage costs 0.3 s of start-up ('spectssp process' rejects a study without it)
            steps = int(round(margin_mm / self.voxel_mm))
            self._samples[key] = (ndimage.binary_dilation(self.brain, iterations=steps) if steps > 0
                                  else self.brain.copy())
        return self._samples[key]

    @functools.cached_property
    def resolution_matcher(self):
        """The resolution estimator on this grid: its references are built once per machine
        (seconds) and memory-mapped from the cache after (atlas.resolution_cache)."""
        # the brain and 10 mm around it: the spill of counts across the brain edge is the
        # strongest cue to resolution
        return cached_matcher(self.perfusion_model, self.volume_mask(VOLUME_MARGIN_MM), self.voxel_mm,
                              provenance={"atlas_sha256": self.sha256, "volume_margin_mm": VOLUME_MARGIN_MM,
                                          "sharp": "Atlas.perfusion_model"})

    def world_mm(self, ijk: np.ndarray) -> np.ndarray:
        """RAS millimetres of voxel indices (N, 3)."""
        return ijk @ self.affine[:3, :3].T + self.affine[:3, 3]

    def to_lps_geometry(self) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
        """origin, spacing, direction (row-major 3x3) of the grid in LPS, for ITK/ANTs images
        built from arrays indexed (i, j, k)."""
        flip = np.diag([-1.0, -1.0, 1.0])
        d = flip @ self.affine[:3, :3]
        spacing = np.linalg.norm(d, axis=0)
        direction = d / spacing
        origin = flip @ self.affine[:3, 3]
        return tuple(origin), tuple(spacing), tuple(direction.ravel())


@functools.lru_cache(maxsize=2)
def load_atlas(data_dir: str | None = None) -> Atlas:
    d = Path(data_dir) if data_dir else DATA_DIR
    z = np.load(d / "atlas.npz")
    meta = json.loads((d / "atlas.json").read_text())
    maps = {v: z[f"pixmap_{v}"] for v in VIEWS}
    surface = Surface(z["surface_voxel"], z["surface_normal"], z["surface_view"], maps, z["surface_shading"])
    atlas = Atlas(affine=z["affine"], template=z["template"], brain=z["brain"], labels=z["labels"],
                 gm=z["gm"].astype(np.float32), wm=z["wm"].astype(np.float32), surface=surface,
                 sha256=meta["sha256"])
    # Display shading: Lambert shading times the template's own 3D-SSP value, so the grey
    # surface shows anatomy (gyri, the medial wall's callosal region) and not only shape.
    tmpl = atlas.template.reshape(-1)[atlas.samples(13.5)].max(axis=1)
    tmpl = np.clip(tmpl / np.percentile(tmpl, 99), 0, 1)
    surface.shading = (surface.shading * (0.35 + 0.65 * tmpl)).astype(np.float32)
    return atlas
