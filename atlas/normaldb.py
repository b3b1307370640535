"""Normal database: per surface pixel mean and SD of reference-normalised 3D-SSP values.

One ``.ndb`` file (a NumPy ``.npz``) holds, for N normal members: the raw SSP (N, P), each
member's reference means (N, R), and its registered brain volume (float16, inside the brain
mask, scaled to its whole-brain mean), so the database alone is enough to recompute
leave-one-out Z maps and to simulate disease for training (the paper's protocol). Metadata:
tracer, N, age range, atlas hash, SSP depth, harmonised resolution, registration stages and
profile, software version, member series UIDs (what its Z maps depend on is checked against
the configuration at start-up: processor/provenance.py).

A database built with a site template (``spectssp normaldb build --template-rounds``) also holds
that registration template (float16 on the atlas grid, array ``template``; meta ``template``:
rounds, symmetric, members) and says in meta ``member_qc_template`` ("site" or "bundled")
which template its members' QC values were measured against; older files have neither and
keep working with the bundled template and the absolute QC threshold.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spectssp.core.zscore import leave_one_out_z, normal_stats
from spectssp.fsutil import atomic_write_bytes

SCHEMA = "spectssp.normaldb/1"
REFERENCES = ["GLB", "THL", "PNS", "CBL"]


@dataclass
class NormalDatabase:
    raw_ssp: np.ndarray            # (N, P) float32
    ref_means: np.ndarray          # (N, R) float32, columns in REFERENCES order
    volumes: np.ndarray | None     # (N, V) float16 voxels of the volume mask / GLB mean, or None
    meta: dict
    references: list[str] = field(default_factory=lambda: list(REFERENCES))
    template: np.ndarray | None = None   # site registration template on the atlas grid, or None

    def __post_init__(self) -> None:
        self.mean, self.sd = normal_stats(self.normalised())

    @property
    def n(self) -> int:
        return int(self.raw_ssp.shape[0])

    @property
    def tracer(self) -> str:
        return str(self.meta.get("tracer", "unknown"))

    def normalised(self) -> np.ndarray:
        """(N, R, P) member SSP values divided by each reference mean."""
        return self.raw_ssp[:, None, :] / self.ref_means[:, :, None]

    def loo_z(self) -> np.ndarray:
        """(N, R, P) leave-one-out Z maps of the members (the paper's NC images)."""
        return leave_one_out_z(self.normalised())

    def without(self, k: int) -> "NormalDatabase":
        """The database minus member ``k`` (simulations from member k must not see it)."""
        keep = np.arange(self.n) != k
        vols = None if self.volumes is None else self.volumes[keep]
        return NormalDatabase(self.raw_ssp[keep], self.ref_means[keep], vols, dict(self.meta, n=int(keep.sum())),
                              list(self.references), self.template)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Atomic write (temp file + rename)."""
        path = Path(path)
        meta = dict(self.meta, schema=SCHEMA, n=self.n, references=self.references)
        buf = io.BytesIO()
        arrays = {"raw_ssp": self.raw_ssp.astype(np.float32), "ref_means": self.ref_means.astype(np.float32),
                  "meta": np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)}
        if self.volumes is not None:
            arrays["volumes"] = self.volumes.astype(np.float16)
        if self.template is not None:
            arrays["template"] = self.template.astype(np.float16)
        np.savez_compressed(buf, **arrays)
        atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike[str], volumes: bool = True) -> "NormalDatabase":
        """Read a database; ``volumes=False`` skips the member volumes (only training and
        simulation need them, not processing)."""
        try:
            with np.load(path) as z:
                meta = json.loads(bytes(z["meta"]).decode())
                if meta.get("schema") != SCHEMA:
                    raise ValueError(f"not a {SCHEMA} file")
                vols = z["volumes"] if volumes and "volumes" in z.files else None
                refs = meta["references"]
                raw, means = z["raw_ssp"], z["ref_means"]
                for key in ("resolution_fwhm_mm", "volume_margin_mm"):
                    v = meta.get(key)
                    if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0):
                        raise ValueError(f"bad {key} {v!r}")
                stages = meta.get("registration_stages")
                if stages is not None and (not isinstance(stages, list) or not all(isinstance(x, str) for x in stages)):
                    raise ValueError(f"bad registration_stages {stages!r}")
                if (not isinstance(refs, list) or not set(refs) <= set(REFERENCES) or raw.ndim != 2
                        or means.shape != (raw.shape[0], len(refs)) or not np.all(np.isfinite(means))
                        or not np.all(means > 0) or not np.all(np.isfinite(raw))):
                    raise ValueError("inconsistent arrays or references")
                template = z["template"].astype(np.float32) if "template" in z.files else None
                if template is not None and (template.ndim != 3 or not np.all(np.isfinite(template))
                                             or not template.max() > 0):
                    raise ValueError("bad site template")
                return cls(raw, means, vols, meta, list(refs), template)
        except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile,
                zlib.error) as exc:
            raise ValueError(f"{path} is not a readable spectssp normal database ({exc})") from None

    @property
    def resolution_fwhm_mm(self) -> float | None:
        """The effective resolution every member was harmonised to (None: not harmonised)."""
        v = self.meta.get("resolution_fwhm_mm")
        return None if v is None else float(v)

    @property
    def registration_stages(self) -> list[str] | None:
        """The registration stages its members went through (None: not recorded, older builds)."""
        v = self.meta.get("registration_stages")
        return None if v is None else [str(x) for x in v]

    @property
    def volume_margin_mm(self) -> float:
        """Member volumes hold the brain plus this margin (0: the brain mask only)."""
        return float(self.meta.get("volume_margin_mm", 0.0))

    def describe(self) -> dict:
        """What the database records, for listings (``status``, ``normaldb info``): tracer,
        members, date, resolution, SSP depth, software, registration settings when recorded, and
        the statistics' hash (first 16 hex digits, as result.json names it)."""
        m = self.meta
        out = {"tracer": self.tracer, "members": self.n, "created": m.get("created"),
               "resolution_fwhm_mm": self.resolution_fwhm_mm, "depth_mm": m.get("depth_mm"),
               "software": m.get("software")}
        # provenance keys a newer builder records (registration stages, profile, atlas hash)
        out.update({k: v for k, v in m.items() if k.startswith("registration") or k == "atlas_sha256"})
        out["sha256"] = self.sha256()[:16]
        return out
    @property
    def template_kind(self) -> str:
        """The registration template studies are processed against: "site" or "bundled"."""
        return "bundled" if self.template is None else "site"

    def member_qc(self) -> np.ndarray | None:
        """The members' registration QC values when they were measured against the template
        studies are registered to (``template_kind``); None for older databases, which do not
        say against which template they were measured."""
        if self.meta.get("member_qc_template") != self.template_kind:
            return None
        values = [m.get("qc") for m in self.meta.get("members") or [] if isinstance(m, dict)]
        if not values or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
            return None
        arr = np.asarray(values, dtype=np.float64)
        return arr if np.all(np.isfinite(arr)) else None

    def sha256(self) -> str:
        """Content hash of the statistics (what a model card pairs with), computed once."""
        if getattr(self, "_sha256", None) is None:
            h = hashlib.sha256()
            for a in (self.raw_ssp, self.ref_means):
                h.update(np.ascontiguousarray(a).tobytes())
            self._sha256 = h.hexdigest()
        return self._sha256
