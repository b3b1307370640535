"""3D-SSP statistics of one registered study: the pure core applied with the atlas and the
normal database. No I/O here either; the pipeline calls it between registration and output."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atlas import Atlas, voi
from atlas.normaldb import NormalDatabase
from spectssp.core import regions as core_regions
from spectssp.core.ssp import extract_ssp, normalise, reference_means
from spectssp.core.zscore import decrease_z


@dataclass(frozen=True)
class RegionStats:
    """One VOI of result.json ``regions``: mean decrease Z and % of its surface above threshold."""

    mean_z: float
    extent_pct: float


@dataclass(frozen=True)
class Indices:
    """result.json ``indices``: eZIS-style severity, extent, ratio and the cingulate island score."""

    severity: float
    extent: float
    ratio: float
    ciscore: float


@dataclass(frozen=True)
class Resolution:
    """result.json ``resolution``: the study's estimated FWHM, the kernel applied and the target (mm)."""

    estimated_fwhm_mm: float
    kernel_fwhm_mm: float
    target_fwhm_mm: float


@dataclass(frozen=True)
class Statistics:
    """The analyser's part of result.json (``reference_regions``, ``regions``, ``indices``,
    ``statistics_reference``, ``resolution``); processor.result places it."""

    reference_regions: tuple[str, ...]
    regions: dict[str, RegionStats]
    indices: Indices
    statistics_reference: str
    resolution: Resolution | None


@dataclass
class SSPResult:
    references: list[str]
    raw_ssp: np.ndarray              # (P,)
    ref_means: dict[str, float]
    z: np.ndarray                    # (R, P) decrease Z, rows in ``references`` order
    regions: dict[str, RegionStats]
    indices: Indices
    report_reference: str
    resolution: Resolution | None = None

    def z_for(self, ref: str) -> np.ndarray:
        return self.z[self.references.index(ref)]

    def statistics(self) -> Statistics:
        """What result.json reports of this analysis (arrays stay here)."""
        return Statistics(tuple(self.references), dict(self.regions), self.indices, self.report_reference,
                          self.resolution)


class SSPAnalyser:
    """Precomputes everything that does not depend on the study (indices, VOI pixel sets)."""

    def __init__(self, atlas: Atlas, ndb: NormalDatabase, depth_mm: float, z_threshold: float,
                 report_reference: str = "GLB") -> None:
        self.atlas, self.ndb = atlas, ndb
        # the database decides the resolution its statistics were made at; studies follow it
        self.target_fwhm_mm: float | None = ndb.resolution_fwhm_mm
        self.references = list(ndb.references)
        self.samples = atlas.samples(depth_mm)
        self.threshold = z_threshold
        self.report_reference = report_reference
        self.ref_indices = {r: atlas.reference_indices(r) for r in self.references}
        pv = atlas.pixel_voi
        self.pixel_voi = pv
        self.region_ids = {rs.name: [voi.LABELS[v] for v in rs.vois] for rs in voi.REGION_TABLE}
        self.ad_mask = np.isin(pv, [voi.LABELS[v] for v in voi.AD_SPECIFIC.vois])
        self.pcc_mask = np.isin(pv, [voi.LABELS[v] for v in voi.CIS_NUMERATOR.vois])
        self.occ_mask = np.isin(pv, [voi.LABELS[v] for v in voi.CIS_DENOMINATOR.vois])

    def harmonise(self, volume: np.ndarray, estimate_on: np.ndarray | None = None
                  ) -> tuple[np.ndarray, Resolution | None]:
        """The study at the database's resolution (unchanged when the database has none).

        ``estimate_on``: the same study through the linear registration only. The resolution
        is estimated there, because the deformable stage pulls blurred edges toward the
        template's and makes a blurry scan look sharper than its cortical peaks are.
        """
        if self.target_fwhm_mm is None:
            return volume, None
        h = self.atlas.resolution_matcher.harmonise(volume, self.target_fwhm_mm, estimate_on)
        return h.volume, Resolution(**h.summary())

    def measure(self, volume: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
        """Raw SSP and reference means of a volume already at the database's resolution."""
        return extract_ssp(volume, self.samples), reference_means(volume, self.ref_indices)

    def analyse(self, volume: np.ndarray, estimate_on: np.ndarray | None = None) -> SSPResult:
        """Harmonise, measure and compare a registered study with the normal database."""
        volume, resolution = self.harmonise(volume, estimate_on)
        result = self.from_raw(*self.measure(volume))
        result.resolution = resolution
        return result

    def from_raw(self, raw: np.ndarray, means: dict[str, float], ndb: NormalDatabase | None = None) -> SSPResult:
        ndb = ndb or self.ndb
        values = normalise(raw, means, self.references)
        z = decrease_z(values, ndb.mean, ndb.sd)
        zr = z[self.references.index(self.report_reference)]
        table = core_regions.region_table(zr, self.pixel_voi, self.region_ids, self.threshold)
        regions = {name: RegionStats(**stats) for name, stats in table.items()}
        indices = Indices(**core_regions.ezis_indices(zr, self.ad_mask, self.threshold),
                          ciscore=core_regions.cingulate_island_score(zr, self.pcc_mask, self.occ_mask))
        return SSPResult(self.references, raw, means, z, regions, indices, self.report_reference)
