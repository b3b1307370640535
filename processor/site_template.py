"""A site's registration template made from its own normal studies (``spectssp normaldb build``).

The bundled template is a phantom; real perfusion correlates less with it (issue 15), so a
site's normals are averaged into a template of their own: register them to the bundled
template, average them on the atlas grid (each intensity-normalised), register them again to
that average, average again, ``rounds`` times; optionally averaged with its left-right
mirror. The bundled template stays the starting point, so the average stays in the atlas's
(MNI) space and the atlas VOIs and surface still apply. The template is quantised as the
``.ndb`` stores it (float16) before members are registered to it for good, so their QC values
are those a study processed against the database will be compared with.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import SimpleITK as sitk
from tqdm import tqdm

from atlas import Atlas
from processor.registration import intensity_normalise, register
from processor.registration_qc import outliers


def mirror_lr(volume: np.ndarray, atlas: Atlas) -> np.ndarray:
    """``volume`` mirrored left-right about x = 0 (the atlas grid is symmetric about the
    midline: the first axis runs along x; checked, not assumed)."""
    n = atlas.template.shape[0]
    a = np.asarray(atlas.affine, dtype=np.float64)
    if not (np.allclose(a[:3, :3], np.diag(np.diag(a[:3, :3]))) and abs(a[0, 3] + a[0, 0] * (n - 1) / 2) < 1e-6):
        raise ValueError("the atlas grid is not symmetric about x = 0; cannot mirror a template on it")
    return volume[::-1].copy()


def as_stored(template: np.ndarray) -> np.ndarray:
    """The template as the ``.ndb`` holds it and processing reads it back (float16 -> float32)."""
    return template.astype(np.float16).astype(np.float32)


def normalised(volume: np.ndarray) -> np.ndarray:
    """A registered volume intensity-normalised and kept as float16 (about 1, to 1e-3: the
    precision the stored template has): 2.2 MB on the atlas grid instead of 4.4 MB (float32)."""
    return intensity_normalise(volume).astype(np.float16)


class Average:
    """Running mean of intensity-normalised registered volumes: one float64 sum on the atlas
    grid (8.8 MB); no member kept in memory."""

    def __init__(self) -> None:
        self.total: np.ndarray | None = None
        self.n = 0

    def add(self, volume: np.ndarray, *, is_normalised: bool = False) -> None:
        """Add a registered volume (``is_normalised``: already through :func:`normalised`)."""
        v = (volume if is_normalised else intensity_normalise(volume)).astype(np.float64)
        self.total = v if self.total is None else self.total + v
        self.n += 1

    def template(self, atlas: Atlas, symmetric: bool) -> np.ndarray:
        if self.total is None:
            raise ValueError("no member registered well enough to make a site template")
        t = self.total / self.n
        if symmetric:
            t = 0.5 * (t + mirror_lr(t, atlas))
        return as_stored(intensity_normalise(t.astype(np.float32)))


def build_template(images: Sequence[sitk.Image], atlas: Atlas, rounds: int, *, symmetric: bool, floor: float,
                   register_kw: dict[str, Any], progress: bool = True,
                   report: Callable[[int, int, int, list[tuple[int, float]]], None] | None = None) -> np.ndarray:
    """The site template after ``rounds`` (>= 1) register-and-average rounds, the first against
    the bundled template. A member whose QC is an outlier of that round's members (``outliers``:
    below ``floor``, a gross failure, or far below the others' median) or whose registration
    raises is left out of that round's average only; which members enter the database is
    decided against the final template by the caller. ``report(round, used, total, left_out)``
    after each round, ``left_out`` the (index, QC) of the outliers. A round holds its registered
    volumes until all are measured (the outliers are known only then), each intensity-normalised
    as float16 (:func:`normalised`): 2.2 MB per member on the atlas grid, 1.1 GB at 500 members."""
    if rounds < 1:
        raise ValueError("a site template needs at least one round")
    template = None    # the first round registers to the bundled template
    for r in range(1, rounds + 1):
        done: list[tuple[int, float, np.ndarray]] = []
        for i, image in enumerate(tqdm(images, desc=f"site template round {r}/{rounds}", unit="study",
                                       disable=not progress)):
            try:
                reg = register(image, atlas, template=template, **register_kw)
            except (ValueError, RuntimeError):
                continue   # reported by the caller's final pass, where it fails again
            done.append((i, reg.qc, normalised(reg.volume)))
        out = outliers(np.array([qc for _, qc, _ in done]), floor) if done else np.zeros(0, bool)
        avg = Average()
        for (_, _, volume), bad in zip(done, out):
            if not bad:
                avg.add(volume, is_normalised=True)
        template = avg.template(atlas, symmetric)
        if report is not None:
            report(r, avg.n, len(images), [(i, qc) for (i, qc, _), bad in zip(done, out) if bad])
    return template
