"""Grad-CAM lands in the right view box; heat images follow the composite's layout."""
from __future__ import annotations

import numpy as np
import torch

from models import CLASSES
from models.inference import heat_overlay, load_classifier, surface_image
from models.simulate import SimDataset
from models.train import TrainConfig, train_model
from atlas.render.composite import view_boxes

torch.set_num_threads(1)
SIZE = 64


def _box_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class AD: a red blob somewhere in the RT.LAT box; DLB: in the LT.MED box; NC: none."""
    rng = np.random.default_rng(seed)
    boxes = view_boxes(SIZE)
    imgs = np.full((3 * n, SIZE, SIZE, 3), 90, np.uint8)
    labels = np.repeat([0, 1, 2], n)
    for i, lab in enumerate(labels):
        if lab == 2:
            continue
        t, l, b, r = boxes["RT.LAT" if lab == 0 else "LT.MED"]
        cy, cx = rng.integers(t + 6, b - 6), rng.integers(l + 6, r - 6)
        imgs[i, cy - 4:cy + 4, cx - 4:cx + 4] = (255, 0, 0)
    return imgs, labels


def test_gradcam_heat_sits_in_the_view_box(tmp_path):
    imgs, labels = _box_images(30, 0)
    split = np.zeros(len(labels), np.int8)
    split[np.arange(len(labels)) % 5 == 0] = 1
    ds = SimDataset(imgs, labels, np.zeros(len(labels), np.int32), split, np.zeros(len(labels), np.int8),
                    np.zeros((len(labels), 2), np.float32), np.zeros(len(labels), np.float32),
                    np.zeros((len(labels), 4), np.float32),
                    {"config": {"protocol": "synthetic", "references": ["GLB"], "display_ranges": [[0, 5]]},
                     "counts": {}, "validation_members": [], "images_sha256": "x"})
    train_model(ds, TrainConfig(network="tiny", repeats=1, epochs=30, patience=10, batch_size=16, threads=1),
                tmp_path, ndb_info={}, atlas_sha256="x", progress=False)
    clf = load_classifier(tmp_path, "cpu")
    assert clf.heat_method == "Grad-CAM"
    test, tl = _box_images(4, 99)
    probs = clf.member_probs(test)[0]
    assert (probs.argmax(1) == tl).mean() >= 0.75
    boxes = view_boxes(SIZE)
    for cls, view in ((0, "RT.LAT"), (1, "LT.MED")):
        img = test[np.flatnonzero(tl == cls)[0]]
        heat = clf.gradcam(img, cls)
        assert heat.shape == (SIZE, SIZE) and heat.max() == np.float32(1.0)
        mass = {v: heat[t:b, l:r].sum() for v, (t, l, b, r) in boxes.items()}
        assert max(mass, key=mass.get) == view, mass
        ov = heat_overlay(img, heat)
        assert ov.shape == img.shape and ov.dtype == np.uint8


def test_surface_heat_image_follows_the_composite_layout(atlas):
    from atlas.surface import VIEWS
    s = atlas.surface
    values = np.zeros(s.n_pixels, np.float32)
    values[s.view_slice("LT.LAT")] = 1.0
    img = surface_image(s, values, 128)
    boxes = view_boxes(128)
    mass = {v: img[t:b, l:r].sum() for v, (t, l, b, r) in boxes.items()}
    assert max(mass, key=mass.get) == "LT.LAT"
    assert sum(m for v, m in mass.items() if v != "LT.LAT") < 0.02 * mass["LT.LAT"]
    assert "LT.LAT" in VIEWS and CLASSES == ("AD", "DLB", "NC")


def test_heat_method_is_named_from_the_network():
    """The panel says which method made the heat: LayerCAM for the bundled network."""
    from models import BUNDLED_MODEL_DIR
    from models.inference import read_card
    from models.networks import NETWORKS
    card, _ = read_card(BUNDLED_MODEL_DIR)
    expected = {"GradCAM": "Grad-CAM"}.get(NETWORKS[card["architecture"]["network"]].cam_method,
                                           NETWORKS[card["architecture"]["network"]].cam_method)
    clf = load_classifier(BUNDLED_MODEL_DIR, "cpu")
    assert clf.heat_method == expected == "LayerCAM"
