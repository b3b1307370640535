"""The resolution matcher's blurred references, cached on disk between processes.

Why: building them smooths the perfusion model at 23 candidate FWHMs, 3-6 s on a busy 2-core
machine, which every ``spectssp process`` paid before its first study. They depend only on the
atlas, the candidates and the smoothing code, so they are built once and memory-mapped after
(about 60 MB of float64, read in milliseconds; daemon workers share the pages).

The file name is a sha256 over everything the references are computed from: the sharp model and
the mask (bytes), voxel size, candidates, the source of :mod:`spectssp.core.resolution`, and the
numpy and scipy versions; a change to any of them builds a new file. A JSON file beside each
array records that provenance. Deleting the folder is always safe: it is rebuilt.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import scipy

from spectssp import __version__
from spectssp.core import resolution
from spectssp.core.resolution import CANDIDATES_MM, ResolutionMatcher
from spectssp.fsutil import atomic_write, atomic_write_bytes

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/spectssp/resolution`` (else ``~/.cache/...``), beside the simulated
    training sets' cache (models.simulate)."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "spectssp" / "resolution"


def references_key(sharp: np.ndarray, mask: np.ndarray, voxel_mm: float,
                   candidates_mm: tuple[float, ...] = CANDIDATES_MM) -> str:
    """sha256 of every input of :class:`ResolutionMatcher`'s references (the cache file name)."""
    h = hashlib.sha256()
    for part in (np.ascontiguousarray(sharp, np.float32).tobytes(), str(sharp.shape).encode(),
                 np.packbits(np.asarray(mask, bool).ravel()).tobytes(), str(mask.shape).encode(),
                 repr(float(voxel_mm)).encode(), repr(tuple(float(c) for c in candidates_mm)).encode(),
                 Path(resolution.__file__).read_bytes(), np.__version__.encode(), scipy.__version__.encode()):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def cached_matcher(sharp: np.ndarray, mask: np.ndarray, voxel_mm: float, provenance: dict | None = None,
                   cache_dir: Path | None = None) -> ResolutionMatcher:
    """The matcher for these inputs, its references read from ``cache_dir`` when built before,
    else built and stored there (best effort: a read-only or full disk only costs the build)."""
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = references_key(sharp, mask, voxel_mm)
    path = folder / f"{key}.npy"
    try:
        refs = np.load(path, mmap_mode="r")
        return ResolutionMatcher(sharp, mask, voxel_mm, references=refs)
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:   # truncated, foreign or unreadable: rebuild it
        log.warning("resolution references cache %s unusable (%s); rebuilding it", path, exc)
    t = time.perf_counter()
    matcher = ResolutionMatcher(sharp, mask, voxel_mm)
    built_s = time.perf_counter() - t
    meta = {**(provenance or {}), "key": key, "voxel_mm": float(voxel_mm), "candidates_mm": list(CANDIDATES_MM),
            "shape": list(matcher.references.shape), "dtype": str(matcher.references.dtype),
            "numpy": np.__version__, "scipy": scipy.__version__, "spectssp": __version__,
            "built_s": round(built_s, 2),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    try:
        atomic_write_bytes(folder / f"{key}.json", json.dumps(meta, indent=1).encode())
        atomic_write(path, lambda fh: np.save(fh, matcher.references, allow_pickle=False))
        log.info("resolution references built in %.1f s and cached in %s", built_s, path)
    except OSError as exc:
        log.info("resolution references built in %.1f s, not cached (%s)", built_s, exc.strerror or exc)
    return matcher
