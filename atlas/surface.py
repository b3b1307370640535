"""3D-SSP surface geometry (Minoshima et al., J Nucl Med 1995): pure numpy/scipy.

For each of the 8 standard views, parallel rays on a 2 mm pixel grid are cast through the
brain mask; the first brain voxel a ray meets is a surface pixel. Each surface pixel gets the
inward surface normal (gradient of the smoothed mask), along which the 3D-SSP value is the
maximum over samples up to a fixed depth (13.5 mm by default). The medial views are the
medial surfaces of each hemisphere: the hemispheres are separated at the midline (x = 0) and
rays start there, going outward.

Arrays are in the atlas voxel order (i, j, k) = (x to the right, y to the front, z up) of an
RAS affine, as nibabel stores the MNI152 templates.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VIEWS = ("RT.LAT", "LT.LAT", "SUP", "INF", "ANT", "POST", "RT.MED", "LT.MED")
# The four views the paper puts on the CNN image.
CNN_VIEWS = ("RT.LAT", "LT.LAT", "RT.MED", "LT.MED")


@dataclass(frozen=True)
class ViewSpec:
    """How a view maps image (row, col) to volume axes, and where its rays go.

    ``ray_axis``/``ray_sign``: rays travel along this volume axis in this direction.
    ``row_axis``/``row_sign``: image rows go along this axis; sign -1 means the first image row
    is at the high end (superior or anterior at the top). Same for columns.
    """

    ray_axis: int
    ray_sign: int
    row_axis: int
    row_sign: int
    col_axis: int
    col_sign: int
    hemisphere: int = 0  # +1 right, -1 left, 0 whole brain


# Orientation as readers know it from NEUROSTAT/iSSP: superior up in lateral, anterior and
# posterior views; anterior up in superior and inferior views; the face of a right lateral view
# points right.
VIEW_SPECS: dict[str, ViewSpec] = {
    "RT.LAT": ViewSpec(0, -1, 2, -1, 1, +1),
    "LT.LAT": ViewSpec(0, +1, 2, -1, 1, -1),
    "SUP": ViewSpec(2, -1, 1, -1, 0, +1),
    "INF": ViewSpec(2, +1, 1, -1, 0, -1),
    "ANT": ViewSpec(1, -1, 2, -1, 0, -1),
    "POST": ViewSpec(1, +1, 2, -1, 0, +1),
    "RT.MED": ViewSpec(0, +1, 2, -1, 1, -1, hemisphere=+1),
    "LT.MED": ViewSpec(0, -1, 2, -1, 1, +1, hemisphere=-1),
}


@dataclass
class Surface:
    """Surface pixels of all views, concatenated in VIEWS order."""

    voxel: np.ndarray        # (P, 3) int: surface voxel (i, j, k)
    normal: np.ndarray       # (P, 3) float32: unit inward normal in voxel axes
    view_index: np.ndarray   # (P,) int8: index into VIEWS
    pixel_maps: dict[str, np.ndarray]  # view -> (H, W) int32 surface pixel index, -1 = background
    shading: np.ndarray      # (P,) float32 in [0, 1]: Lambert shading toward the viewer

    @property
    def n_pixels(self) -> int:
        return int(self.voxel.shape[0])

    def view_slice(self, view: str) -> slice:
        idx = np.flatnonzero(self.view_index == VIEWS.index(view))
        return slice(int(idx[0]), int(idx[-1]) + 1)


def build_surface(brain: np.ndarray, midline_index: int) -> Surface:
    """Surface pixels, normals and pixel maps for a boolean brain mask."""
    from scipy import ndimage  # deferred: scipy.ndimage costs 0.3 s of start-up ('spectssp process' rejects a study without it)
    brain = brain.astype(bool)
    hemi_masks = {0: brain, +1: brain.copy(), -1: brain.copy()}
    hemi_masks[+1][: midline_index + 1] = False   # right hemisphere: x > 0
    hemi_masks[-1][midline_index:] = False        # left hemisphere: x < 0
    smooth = {h: ndimage.gaussian_filter(m.astype(np.float32), 1.5) for h, m in hemi_masks.items()}
    grads = {h: np.stack(np.gradient(s), axis=-1) for h, s in smooth.items()}
    voxels, normals, views, shades = [], [], [], []
    maps: dict[str, np.ndarray] = {}
    offset = 0
    for vi, name in enumerate(VIEWS):
        spec = VIEW_SPECS[name]
        mask = hemi_masks[spec.hemisphere]
        vox = _first_hits(mask, spec)
        hit = vox[..., 0] >= 0
        # image orientation: rows/cols of the (row_axis, col_axis) plane
        coords = vox[hit]
        n = grads[spec.hemisphere][coords[:, 0], coords[:, 1], coords[:, 2]].astype(np.float32)
        norm = np.linalg.norm(n, axis=1, keepdims=True)
        ray = np.zeros(3, np.float32)
        ray[spec.ray_axis] = spec.ray_sign
        fallback = np.broadcast_to(ray, n.shape)
        n = np.where(norm > 1e-6, n / np.maximum(norm, 1e-6), fallback)
        # Normals must point into the brain along the ray, never back out of it.
        n = np.where((n @ ray)[:, None] < 0.2, 0.5 * (n + fallback), n)
        n /= np.linalg.norm(n, axis=1, keepdims=True)
        shade = np.clip(n @ ray, 0, 1) ** 0.8
        pmap = np.full(hit.shape, -1, np.int32)
        pmap[hit] = offset + np.arange(coords.shape[0], dtype=np.int32)
        maps[name] = pmap
        voxels.append(coords)
        normals.append(n)
        views.append(np.full(coords.shape[0], vi, np.int8))
        shades.append(shade.astype(np.float32))
        offset += coords.shape[0]
    return Surface(np.concatenate(voxels).astype(np.int16), np.concatenate(normals),
                   np.concatenate(views), maps, np.concatenate(shades))


def _first_hits(mask: np.ndarray, spec: ViewSpec) -> np.ndarray:
    """(H, W, 3) voxel index of the first mask voxel along each ray; -1 where none."""
    # Reorder the mask to (row_axis, col_axis, ray_axis) with the requested directions.
    m = np.moveaxis(mask, (spec.row_axis, spec.col_axis, spec.ray_axis), (0, 1, 2))
    flips = []
    if spec.row_sign < 0:
        m = m[::-1]
        flips.append(0)
    if spec.col_sign < 0:
        m = m[:, ::-1]
        flips.append(1)
    if spec.ray_sign < 0:
        m = m[:, :, ::-1]
    any_hit = m.any(axis=2)
    depth = np.argmax(m, axis=2)
    H, W = any_hit.shape
    rows, cols = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    # back to volume indices
    r_idx = (m.shape[0] - 1 - rows) if spec.row_sign < 0 else rows
    c_idx = (m.shape[1] - 1 - cols) if spec.col_sign < 0 else cols
    d_idx = (m.shape[2] - 1 - depth) if spec.ray_sign < 0 else depth
    out = np.full((H, W, 3), -1, np.int64)
    out[..., spec.row_axis] = r_idx
    out[..., spec.col_axis] = c_idx
    out[..., spec.ray_axis] = d_idx
    out[~any_hit] = -1
    return out


def sample_indices(surface: Surface, shape: tuple[int, int, int], voxel_mm: float, depth_mm: float,
                   inside: np.ndarray) -> np.ndarray:
    """(P, D) flat voxel indices along each inward normal, 0 to ``depth_mm`` in voxel steps.

    Samples that leave the brain mask fall back to the surface voxel, so the maximum is taken
    over brain voxels only.
    """
    steps = np.arange(0.0, depth_mm / voxel_mm + 1e-6, 1.0)
    pts = surface.voxel[:, None, :].astype(np.float32) + steps[None, :, None] * surface.normal[:, None, :]
    ijk = np.rint(pts).astype(np.int64)
    for a in range(3):
        np.clip(ijk[..., a], 0, shape[a] - 1, out=ijk[..., a])
    flat = np.ravel_multi_index((ijk[..., 0], ijk[..., 1], ijk[..., 2]), shape)
    surf_flat = flat[:, :1]
    ok = inside.ravel()[flat]
    return np.where(ok, flat, surf_flat).astype(np.int64)


def pixel_labels(samples: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """VOI label of each surface pixel: the most frequent non-zero label along its normal."""
    lab = labels.ravel()[samples]  # (P, D)
    out = np.zeros(lab.shape[0], dtype=labels.dtype)
    best = np.zeros(lab.shape[0], dtype=np.int32)
    for col in range(lab.shape[1]):
        cand = lab[:, col]
        count = (lab == cand[:, None]).sum(axis=1)
        better = (cand > 0) & (count > best)
        out[better] = cand[better]
        best[better] = count[better]
    return out
