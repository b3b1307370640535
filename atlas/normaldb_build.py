"""Build a normal database from registered normal studies (arrays in, database out)."""
from __future__ import annotations

import datetime as _dt

import numpy as np

from atlas import Atlas
from atlas.load import VOLUME_MARGIN_MM
from atlas.normaldb import REFERENCES, NormalDatabase
from spectssp import __version__
from spectssp.core.ssp import extract_ssp, reference_means


class NormalDatabaseBuilder:
    """Accumulates members one at a time (each a registered volume on the atlas grid), each
    first harmonised to ``resolution_fwhm_mm`` (None: members used as they are)."""

    def __init__(self, atlas: Atlas, depth_mm: float, tracer: str, keep_volumes: bool = True, *,
                 resolution_fwhm_mm: float | None = None, registration_stages: list[str] | None = None,
                 registration_profile: str | None = None) -> None:
        self.atlas, self.depth_mm, self.tracer, self.keep_volumes = atlas, depth_mm, tracer, keep_volumes
        self.resolution_fwhm_mm = resolution_fwhm_mm
        # what registered the members: the pipeline must register studies the same way
        self.registration_stages = list(registration_stages) if registration_stages is not None else None
        self.registration_profile = registration_profile
        self.samples = atlas.samples(depth_mm)
        self.ref_idx = {r: atlas.reference_indices(r) for r in REFERENCES}
        self.volume_idx = np.flatnonzero(atlas.volume_mask(VOLUME_MARGIN_MM).ravel())
        self.raw: list[np.ndarray] = []
        self.means: list[list[float]] = []
        self.vols: list[np.ndarray] = []
        self.members: list[dict] = []

    def add(self, volume: np.ndarray, member: dict, estimate_on: np.ndarray | None = None) -> None:
        """``estimate_on``: the member through the linear registration only, where its
        resolution is estimated (see ``SSPAnalyser.harmonise``)."""
        if self.resolution_fwhm_mm is not None:
            h = self.atlas.resolution_matcher.harmonise(volume, self.resolution_fwhm_mm, estimate_on)
            volume = h.volume
            member = dict(member, estimated_fwhm_mm=h.summary()["estimated_fwhm_mm"])
        means = reference_means(volume, self.ref_idx)
        self.raw.append(extract_ssp(volume, self.samples))
        self.means.append([means[r] for r in REFERENCES])
        if self.keep_volumes:
            self.vols.append((volume.reshape(-1)[self.volume_idx] / means["GLB"]).astype(np.float16))
        self.members.append(member)

    def leave_out(self, indices: list[int]) -> None:
        """Drop members added already (those whose registration QC turned out an outlier of the
        members' distribution, known only once all are registered)."""
        drop = set(indices)
        for attr in ("raw", "means", "vols", "members"):
            setattr(self, attr, [x for i, x in enumerate(getattr(self, attr)) if i not in drop])

    def build(self, note: str = "", *, template: np.ndarray | None = None, template_meta: dict | None = None,
              member_qc_template: str | None = None) -> NormalDatabase:
        """``template``: the site registration template the members were registered to (meta
        ``template_meta``); ``member_qc_template`` ("site" or "bundled") says which template the
        members' "qc" values were measured against (None: not said, no relative QC)."""
        if len(self.raw) < 3:
            raise ValueError(f"a normal database needs at least 3 members, got {len(self.raw)}")
        ages = [m["age"] for m in self.members if m.get("age") is not None]
        meta = {
            "tracer": self.tracer, "depth_mm": self.depth_mm, "atlas_sha256": self.atlas.sha256,
            "resolution_fwhm_mm": self.resolution_fwhm_mm, "volume_margin_mm": VOLUME_MARGIN_MM,
            "software": f"spectssp {__version__}", "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "age_range": [min(ages), max(ages)] if ages else None, "members": self.members, "note": note,
        }
        if template is not None:
            meta["template"] = dict(template_meta or {})
        if member_qc_template is not None:
            meta["member_qc_template"] = member_qc_template
        if self.registration_stages is not None:
            meta["registration_stages"] = self.registration_stages
        if self.registration_profile is not None:
            meta["registration_profile"] = self.registration_profile
        vols = np.stack(self.vols) if self.keep_volumes else None
        return NormalDatabase(np.stack(self.raw), np.array(self.means, np.float32), vols, meta, list(REFERENCES),
                              template)
