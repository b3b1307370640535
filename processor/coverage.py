"""Field-of-view coverage: after registration, before 3D-SSP.

A study whose field of view misses the cerebellum, the vertex or a temporal pole has no counts
there; its Z maps would show a deep "decrease" that is only the edge of the scan, and its CBL
normalisation would be wrong. Such a study is rejected (``incomplete_coverage``) with a
sentence naming each missing part. A study that loses only a little of a reference region is
processed, with the fraction inside the field of view stated per region in result.json
``coverage`` and a warning naming the region.
"""
from __future__ import annotations

import numpy as np

from atlas import Atlas
from atlas.coverage import PART_NAMES, covered_fractions, part_masks
from spectssp.errors import ErrorCode, SpectSSPError


def measure_coverage(fov: np.ndarray, atlas: Atlas, references: list[str]) -> dict[str, float]:
    """result.json ``coverage``: the fraction inside the field of view (``fov`` on the atlas
    grid) of each part (cerebellum, vertex, temporal poles) and each reference region."""
    parts = covered_fractions(fov, part_masks(atlas))
    refs = covered_fractions(fov, {r: atlas.reference_mask(r) for r in references})
    return {k: round(v, 4) for k, v in {**parts, **refs}.items()}


def judge_coverage(coverage: dict[str, float], references: list[str], max_outside: float,
                   warn_outside: float) -> list[str]:
    """Warnings for reference regions partly outside; raises ``INCOMPLETE_COVERAGE`` naming
    every part with more than ``max_outside`` of its volume outside."""
    missing = [(PART_NAMES[p], 1.0 - coverage[p]) for p in PART_NAMES if 1.0 - coverage[p] > max_outside]
    refs = {r: coverage[r] for r in references}
    if missing:
        raise SpectSSPError(ErrorCode.INCOMPLETE_COVERAGE, _sentence(missing, refs, max_outside))
    return [f"the field of view cuts the {r} reference region ({_pct(1.0 - f)} of its volume outside): "
            f"Z maps normalised to {r} are less reliable" for r, f in refs.items() if 1.0 - f > warn_outside]


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _sentence(missing: list[tuple[str, float]], refs: dict[str, float], max_outside: float) -> str:
    what = [f"{name} ({_pct(out)} of its volume outside)" for name, out in missing]
    listed = what[0] if len(what) == 1 else ", ".join(what[:-1]) + " and " + what[-1]
    usable = [r for r, f in refs.items() if 1.0 - f <= max_outside]
    tail = (f"; reference regions still inside it: {', '.join(usable)}" if usable
            else "; no reference region is inside it")
    return (f"the field of view misses {listed} (more than {_pct(max_outside)} outside is not accepted){tail}; "
            "rescan or reconstruct with a field of view that holds the whole brain.")
