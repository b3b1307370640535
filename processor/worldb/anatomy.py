"""World B's anatomy: the MNI152 2009 tissue templates bundled with nilearn, on a 2 mm grid.

Only the anatomy is shared with world A (both stand on the same public template); everything
built on it here (regions, perfusion, disease, scanner) is world B's own. The grid is cropped
to the brain plus a margin so that a study takes about a second to simulate.
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

MARGIN_VOX = 6   # 12 mm of empty space around the brain mask


@dataclass(frozen=True, eq=False)   # hashed by identity: a cache key
class Anatomy:
    """Tissue probabilities on an (i, j, k) grid with a RAS ``affine`` (voxel -> MNI mm)."""

    gm: np.ndarray
    wm: np.ndarray
    csf: np.ndarray
    brain: np.ndarray          # bool
    affine: np.ndarray         # 4 x 4, RAS

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.gm.shape)  # type: ignore[return-value]

    @property
    def voxel_mm(self) -> float:
        return float(abs(self.affine[0, 0]))

    def mni_mm(self) -> np.ndarray:
        """(3, i, j, k) MNI RAS coordinates of every voxel centre."""
        idx = np.indices(self.shape, dtype=np.float32)
        a = self.affine.astype(np.float32)
        return np.einsum("ab,bijk->aijk", a[:3, :3], idx) + a[:3, 3, None, None, None]

    def to_sitk(self, array_ijk: np.ndarray) -> sitk.Image:
        """An LPS SimpleITK image of an (i, j, k) array on this grid (RAS axes flipped in x, y)."""
        img = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(array_ijk, (2, 1, 0)), np.float32))
        ras0 = self.affine[:3, 3]
        img.SetOrigin((-float(ras0[0]), -float(ras0[1]), float(ras0[2])))
        img.SetSpacing((self.voxel_mm,) * 3)
        img.SetDirection((-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0))
        return img

    def brain_centre_lps(self) -> np.ndarray:
        """Centre of the brain mask's bounding box in MNI LPS mm (the head's rotation centre)."""
        ijk = np.argwhere(self.brain)
        mid = (ijk.min(0) + ijk.max(0)) / 2.0
        ras = self.affine[:3, :3] @ mid + self.affine[:3, 3]
        return ras * np.array([-1.0, -1.0, 1.0])


@functools.lru_cache(maxsize=1)
def load_anatomy() -> Anatomy:
    """The nilearn MNI152 2 mm GM, WM and brain-mask templates, cropped (cached; read-only)."""
    from nilearn import datasets   # heavy import: only when a world-B study is made

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm_img = datasets.load_mni152_gm_template(resolution=2)
        wm_img = datasets.load_mni152_wm_template(resolution=2)
        mask_img = datasets.load_mni152_brain_mask(resolution=2)
    gm = np.clip(np.asarray(gm_img.dataobj, np.float32), 0, 1)
    wm = np.clip(np.asarray(wm_img.dataobj, np.float32), 0, 1)
    brain = np.asarray(mask_img.dataobj) > 0
    affine = np.asarray(gm_img.affine, float)
    lo = np.maximum(np.argwhere(brain).min(0) - MARGIN_VOX, 0)
    hi = np.minimum(np.argwhere(brain).max(0) + MARGIN_VOX + 1, brain.shape)
    crop = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
    gm, wm, brain = gm[crop] * brain[crop], wm[crop] * brain[crop], brain[crop]
    total = gm + wm
    over = total > 1
    gm[over] /= total[over]
    wm[over] /= total[over]
    csf = np.where(brain, 1.0 - gm - wm, 0.0).astype(np.float32)
    affine = affine.copy()
    affine[:3, 3] += affine[:3, :3] @ lo
    for a in (gm, wm, csf, brain):
        a.setflags(write=False)
    return Anatomy(gm=gm, wm=wm, csf=csf, brain=brain, affine=affine)
