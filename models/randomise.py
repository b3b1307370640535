"""Domain randomisation of everything that is not disease (issue 17).

A classifier trained on one simulation learns that simulation's look: its lesion shapes (our
atlas VOIs, flat inside), its normal pattern (the database members) and its perfect
registration. On an independently built world the bundled model called DLB with a spared
primary visual cortex or an involved posterior cingulate NC or AD. Each function below varies
one of those nuisances at random so that no single rendering of it is a class cue; the disease
itself (which regions, how much) is drawn in :mod:`models.simulate`.

Pure numpy/scipy on the atlas grid; every function takes its own ``rng`` so a data set stays
deterministic per (seed, class, member, image).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

FWHM_PER_SIGMA = 2.3548


def smooth_random_field(rng: np.random.Generator, shape: tuple[int, ...], brain: np.ndarray,
                        fwhm_vox: float) -> np.ndarray:
    """Gaussian white noise smoothed to ``fwhm_vox`` voxels, unit SD inside ``brain`` (float32).

    Wide fields are drawn on a grid coarsened by up to 4 and upsampled linearly: the same
    smoothness at a fraction of the filtering cost.
    """
    step = int(np.clip(fwhm_vox // 3, 1, 4))
    coarse = tuple(-(-n // step) + 1 for n in shape)
    field = ndimage.gaussian_filter(rng.standard_normal(coarse).astype(np.float32), fwhm_vox / FWHM_PER_SIGMA / step,
                                    mode="wrap")
    if step > 1:
        field = ndimage.zoom(field, step, order=1, grid_mode=False)
    field = field[tuple(slice(0, n) for n in shape)]
    field -= float(field[brain].mean())
    field /= float(field[brain].std()) + 1e-12
    return field.astype(np.float32)


def warp_smoothly(weights: np.ndarray, rng: np.random.Generator, brain: np.ndarray, sd_vox: float,
                  fwhm_vox: float) -> np.ndarray:
    """``weights`` moved by a smooth random displacement (SD ``sd_vox`` voxels per axis).

    Lesion boundaries then follow no atlas edge: a region grows here and shrinks there, as a
    real deficit ignores the VOIs the simulation drew it from. Only the box around the lesion
    (plus the largest likely displacement) is resampled.
    """
    if sd_vox <= 0 or not weights.any():
        return weights
    box = support_box(weights, int(np.ceil(4 * sd_vox)) + 1)
    part = weights[box]
    grid = np.indices(part.shape, dtype=np.float32)
    for axis in range(part.ndim):
        grid[axis] += np.float32(sd_vox) * smooth_random_field(rng, part.shape, brain[box], fwhm_vox)
    out = np.zeros_like(weights)
    out[box] = ndimage.map_coordinates(part, grid, order=1, mode="constant")
    return out


def textured(weights: np.ndarray, rng: np.random.Generator, brain: np.ndarray, sd: float,
             fwhm_vox: float) -> np.ndarray:
    """``weights`` times ``1 + sd * field`` (clipped at 0): a deficit deeper in some parts of a
    region than in others, instead of the flat plateau one fraction per VOI gives."""
    if sd <= 0 or not weights.any():
        return weights
    box = support_box(weights, 1)
    field = smooth_random_field(rng, weights[box].shape, brain[box], fwhm_vox)
    out = weights.copy()
    out[box] *= np.clip(1.0 + np.float32(sd) * field, 0.0, None)
    return out


def support_box(weights: np.ndarray, pad: int) -> tuple[slice, ...]:
    """The bounding box of the non-zero voxels, ``pad`` voxels wider on every side."""
    idx = np.nonzero(weights)
    return tuple(slice(max(int(i.min()) - pad, 0), min(int(i.max()) + pad + 1, n)) for i, n in zip(idx, weights.shape))


def regional_ratios(labels: np.ndarray, rng: np.random.Generator, sd: float, edge_sigma_vox: float,
                    groups: np.ndarray | None = None) -> np.ndarray:
    """A multiplicative map with one factor ``N(1, sd)`` per atlas label (background 1), edges
    smoothed: another normal regional uptake pattern than the database's members (cerebellum,
    thalamus, pons and cortex ratios differ between tracers, cameras and populations), which
    also moves the reference regions and so every reference's Z a little.

    ``groups`` (label -> group index, 0 = background) shares one factor between the labels of a
    group: with both sides of a region in one group the map is a symmetric shift of the whole
    normal pattern, as between two populations, tracers or simulators, rather than a one-sided
    fluctuation of one subject."""
    n = int(labels.max()) + 1
    lut_of = np.arange(n) if groups is None else np.asarray(groups)[:n]
    factors = (1.0 + sd * rng.standard_normal(int(lut_of.max()) + 1)).astype(np.float32)
    factors[0] = 1.0
    lut = factors[lut_of]
    out = lut[labels]
    if edge_sigma_vox > 0:
        out = ndimage.gaussian_filter(out, edge_sigma_vox, truncate=3.0)
    return out.astype(np.float32)


def misregister(volume: np.ndarray, rng: np.random.Generator, shift_vox: float, rotation_deg: float,
                scale: float) -> tuple[np.ndarray, dict[str, float]]:
    """``volume`` resampled after a small random rotation, scaling and shift about its centre:
    the residual error of a real registration, drawn uniformly within the given bounds."""
    if shift_vox <= 0 and rotation_deg <= 0 and scale <= 0:
        return volume, {}
    angles = np.deg2rad(rng.uniform(-rotation_deg, rotation_deg, 3))
    zoom = 1.0 + rng.uniform(-scale, scale, 3)
    shift = rng.uniform(-shift_vox, shift_vox, 3)
    matrix = np.diag(zoom)
    for axis, a in enumerate(angles):
        c, s = np.cos(a), np.sin(a)
        i, j = [k for k in range(3) if k != axis]
        r = np.eye(3)
        r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
        matrix = r @ matrix
    centre = (np.asarray(volume.shape, float) - 1) / 2
    offset = centre - matrix @ centre + shift
    out = ndimage.affine_transform(volume, matrix, offset=offset, order=1, mode="constant")
    drawn = {"misregistration_deg": round(float(np.rad2deg(np.abs(angles)).max()), 2),
             "misregistration_vox": round(float(np.abs(shift).max()), 2),
             "misregistration_scale": round(float(np.abs(zoom - 1).max()), 4)}
    return out.astype(np.float32), drawn
