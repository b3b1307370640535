"""World B's regions: parcels grown from published MNI coordinates, not from an atlas.

Every region is the grey matter (or, for deep structures, the brain tissue) near a set of
published seed coordinates: a voxel joins the region of its nearest seed (distance scaled by the
region's radius) when that scaled distance is at most 1. Seeds are copied from two coordinate
sets that nilearn bundles (and cites): Dosenbach et al. 2010 (160 ROIs with anatomical names;
cortex) and Seitzman et al. 2020 (300 ROIs with an anatomical class; hippocampus, amygdala,
basal ganglia, thalamus, cerebellum). Every seed is mirrored to the other hemisphere so the
normal brain is symmetric. Primary visual cortex and the pons are coordinate-bounded parcels
chosen by this project (docs/worldb.md). Nothing here comes from AAL or from world A.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from processor.worldb.anatomy import Anatomy

GM_MIN = 0.35          # grey-matter probability of a cortical region voxel (project choice)
TISSUE_MIN = 0.5       # GM + WM of a deep-structure voxel (project choice)

# Dosenbach et al. 2010 (row numbers of nilearn's dosenbach_2010.csv), MNI mm.
_D = {
    "pcc": [(-5, -43, 25), (-5, -52, 17), (10, -55, 17), (-11, -58, 17)],             # 93 108 111 115
    "precuneus": [(-3, -38, 45), (8, -40, 50), (5, -50, 33), (-6, -56, 29), (11, -68, 42)],  # 85 87 105 112 132
    "ipl": [(-41, -40, 42), (54, -44, 43), (-48, -47, 49), (-53, -50, 39), (44, -52, 47),  # 88 96 101 104 107
            (-41, -47, 29), (51, -59, 34), (-48, -63, 35), (-52, -63, 15), (-55, -44, 30)],  # 102 117 124 125 97
    "lateral_temporal": [(52, -15, -13), (-59, -25, -15), (-61, -41, -2), (-59, -47, 11),  # 63 72 91 103
                         (-53, -37, 13), (-54, -22, 9), (59, -13, 8), (51, -30, 5)],        # 83 68 60 78
    "occipital_assoc": [(-34, -60, -5), (36, -60, -8), (-44, -63, -7), (19, -66, -1),      # 118 119 126 129
                        (17, -68, 20), (39, -71, 13), (29, -73, 29), (-29, -75, 28),       # 133 135 139 142
                        (-16, -76, 33), (15, -77, 32), (20, -78, -2), (29, -81, 14),       # 145 148 149 153
                        (33, -81, -2), (-37, -83, -2), (-29, -88, 8), (27, -91, 2),        # 154 156 157 159
                        (45, -72, 29), (-42, -76, 26)],                                    # 137 146
    "frontal": [(6, 64, 3), (29, 57, 18), (-29, 57, 10), (0, 51, 32), (-25, 51, 27),       # 1 2 3 4 5
                (42, 48, -3), (-43, 47, 2), (39, 42, 16), (8, 42, -5), (46, 39, -15),      # 9 10 12 13 15
                (40, 36, 29), (23, 33, 47), (-16, 29, 54), (46, 28, 31), (-52, 28, 17),    # 16 17 20 22 23
                (-44, 27, 33), (40, 17, 40), (44, 8, 34), (-42, 7, 36), (9, 39, 20),       # 24 29 34 36 14
                (-2, 30, 27), (9, 20, 34)],                                                # 19 27
    "sensorimotor": [(58, -3, 17), (-44, -6, 49), (46, -8, 24), (44, -11, 38), (-54, -9, 23),  # 46 49 51 53 52
                     (-38, -15, 59), (-47, -18, 50), (46, -20, 45), (-55, -22, 38),            # 62 64 65 66
                     (41, -23, 55), (18, -27, 62), (-38, -27, 60), (-24, -30, 64),             # 69 74 75 77
                     (0, -1, 52), (10, 5, 51)],                                                # 43 41
}
# Seitzman et al. 2020 (nilearn's seitzman_2018 files; anatomical class), MNI mm, rounded.
_S = {
    "medial_temporal": [(-25.6, -11.8, -21.5), (24.7, -11.3, -22.7), (-25.2, -38.8, -2.0),
                        (25.1, -37.2, -2.2), (-20.3, -2.3, -22.2), (19.5, -1.9, -23.1)],
    "basal_ganglia": [(12.7, 17.3, -5.1), (-12.5, 17.1, -4.5), (11.9, 17.5, 6.6), (-13.3, 17.2, 7.1),
                      (14.2, -1.2, 18.2), (-15.2, -1.5, 18.8), (28.6, -7.5, 7.7), (-28.0, -10.2, 9.1),
                      (28.3, -6.7, -5.1), (-28.3, -10.5, -3.6), (25.3, 1.8, -1.3), (-28.3, -1.0, -3.1),
                      (25.5, 5.1, 7.0), (-24.8, 7.7, 8.0), (18.9, -4.7, -3.9), (-18.8, -5.1, -3.1)],
    "thalamus": [(3.4, -7.8, 8.2), (-2.9, -10.0, 8.5), (18.9, -28.8, 0.7), (-18.8, -29.2, 1.5),
                 (12.9, -13.9, 11.6), (-15.4, -14.2, 12.2), (9.6, -7.8, 1.8), (-9.4, -10.2, 0.2),
                 (13.7, -19.4, 0.2), (-13.6, -19.7, 0.8), (16.0, -22.4, 8.8), (-18.6, -22.7, 9.6)],
    "cerebellum": [(32, -49, -51), (-13, -52, -50), (14, -48, -52), (-32, -78, -38), (32, -81, -38),
                   (-24, -76, -28), (24, -76, -28), (-5.7, -50.8, -40.8), (8, -50, -40), (0, -74, -25),
                   (-10, -78, -28), (10, -78, -28), (-34, -72, -48), (34, -72, -48), (-30.5, -66, -30),
                   (31.7, -62.8, -30.4), (40, -44, -38), (43.5, -60, -30), (-43.5, -60, -30),
                   (-34, -42, -44), (-33, -51, -50), (-6, -74, -42), (7.5, -72, -39), (-10, -62, -18),
                   (10, -62, -18), (-12, -44, -18), (12, -44, -18)],
}
# Seed radius (mm) per region: how far a parcel reaches from its seeds (project choice).
RADIUS_MM = {"pcc": 11.0, "precuneus": 12.0, "ipl": 13.0, "lateral_temporal": 13.0, "occipital_assoc": 12.0,
             "frontal": 15.0, "sensorimotor": 13.0, "medial_temporal": 10.0, "basal_ganglia": 8.0,
             "thalamus": 8.0, "cerebellum": 14.0}
DEEP = ("medial_temporal", "basal_ganglia", "thalamus", "cerebellum", "pons")
# Coordinate-bounded parcels (project choice): calcarine cortex (primary visual) as the medial
# occipital grey matter below and above the calcarine sulcus; the pons as an ellipsoid.
V1_BOX_MM = {"abs_x": (0.0, 18.0), "y": (-110.0, -68.0), "z": (-10.0, 18.0)}
PONS_CENTRE_MM, PONS_RADII_MM = (0.0, -25.0, -33.0), (12.0, 12.0, 11.0)

BASE_NAMES = ("pcc", "precuneus", "ipl", "lateral_temporal", "medial_temporal", "v1", "occipital_assoc",
              "frontal", "sensorimotor", "thalamus", "basal_ganglia", "cerebellum", "pons")


def region_names() -> tuple[str, ...]:
    """Every region: ``<base>_L``, ``<base>_R``, and the midline ``pons``."""
    out = []
    for b in BASE_NAMES:
        out += [b] if b == "pons" else [f"{b}_L", f"{b}_R"]
    return tuple(out)


def seeds(base: str) -> np.ndarray:
    """(n, 3) MNI RAS seeds of a seed-grown region, mirrored to both hemispheres."""
    pts = np.array((_D | _S)[base], float)
    mirrored = pts * np.array([-1.0, 1.0, 1.0])
    return np.unique(np.round(np.vstack([pts, mirrored]), 2), axis=0)


@dataclass(frozen=True)
class Regions:
    """An int16 label volume on the anatomy grid; label ``n`` is ``names[n - 1]`` (0: none)."""

    labels: np.ndarray
    names: tuple[str, ...]

    def mask(self, name: str) -> np.ndarray:
        return self.labels == self.names.index(name) + 1

    def of_base(self, base: str) -> list[str]:
        return [n for n in self.names if n == base or n.startswith(base + "_") and n[len(base) + 1:] in ("L", "R")]


def _scaled_distance(xyz: np.ndarray, base: str) -> np.ndarray:
    """Distance of each point (n, 3) to the nearest seed of ``base``, in units of its radius."""
    dist, _ = cKDTree(seeds(base)).query(xyz)
    return (dist / RADIUS_MM[base]).astype(np.float32)


@functools.lru_cache(maxsize=2)
def build_regions(anatomy: Anatomy) -> Regions:
    """World B's regions on ``anatomy`` (cached per anatomy object)."""
    names = region_names()
    xyz_all = anatomy.mni_mm()
    x, y, z = xyz_all
    gm, tissue = anatomy.gm, anatomy.gm + anatomy.wm
    cortex = anatomy.brain & (gm >= GM_MIN)
    deep = anatomy.brain & (tissue >= TISSUE_MIN)
    labels = np.zeros(anatomy.shape, np.int16)
    base_code = np.zeros(anatomy.shape, np.int16)   # 1 + index into BASE_NAMES, before the hemisphere split
    # Coordinate-bounded parcels first: they take precedence over seed-grown ones.
    v1 = cortex & (np.abs(x) <= V1_BOX_MM["abs_x"][1]) & (y >= V1_BOX_MM["y"][0]) & (y <= V1_BOX_MM["y"][1]) \
        & (z >= V1_BOX_MM["z"][0]) & (z <= V1_BOX_MM["z"][1])
    base_code[v1] = BASE_NAMES.index("v1") + 1
    c, r = np.array(PONS_CENTRE_MM), np.array(PONS_RADII_MM)
    pons = deep & (((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((z - c[2]) / r[2]) ** 2 <= 1.0)
    base_code[pons] = BASE_NAMES.index("pons") + 1
    free = (cortex | deep) & (base_code == 0)
    idx = np.nonzero(free)
    pts = np.stack([a[idx] for a in xyz_all], axis=1).astype(np.float32)
    is_cortex = cortex[idx]
    seeded = [b for b in BASE_NAMES if b in RADIUS_MM]
    dist = np.stack([_scaled_distance(pts, b) for b in seeded])
    for i, b in enumerate(seeded):   # a cortical parcel needs grey matter; a deep one tissue
        if b not in DEEP:
            dist[i, ~is_cortex] = np.inf
    win = np.argmin(dist, axis=0)
    ok = dist[win, np.arange(len(win))] <= 1.0
    codes = np.array([BASE_NAMES.index(b) + 1 for b in seeded], np.int16)
    base_code[tuple(a[ok] for a in idx)] = codes[win[ok]]
    for bi, b in enumerate(BASE_NAMES):
        m = base_code == bi + 1
        if b == "pons":
            labels[m] = names.index("pons") + 1
            continue
        labels[m & (x < 0)] = names.index(f"{b}_L") + 1
        labels[m & (x > 0)] = names.index(f"{b}_R") + 1
    labels.setflags(write=False)
    return Regions(labels=labels, names=names)

