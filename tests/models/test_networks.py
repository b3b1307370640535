"""Network factories: the head replaced, local --init weights loaded, nothing downloaded."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models.networks import NETWORKS, RegionalLogReg, build_network, get_module

torch.set_num_threads(1)


@pytest.mark.parametrize("name", ["alexnet", "googlenet", "resnet18", "mobilenet_v3_small", "efficientnet_b0", "tiny"])
def test_three_classes_and_cam_layer(name):
    torch.manual_seed(0)
    m = build_network(name).eval()
    with torch.no_grad():
        out = m(torch.zeros(1, 3, 96, 96))
    assert out.shape == (1, 3)
    assert isinstance(get_module(m, NETWORKS[name].head), torch.nn.Linear)
    get_module(m, NETWORKS[name].cam_layer)   # exists
    import pytorch_grad_cam
    assert hasattr(pytorch_grad_cam, NETWORKS[name].cam_method)


def test_init_loads_generated_imagenet_weights(tmp_path):
    import torchvision
    torch.manual_seed(123)
    imagenet = torchvision.models.mobilenet_v3_small(weights=None, num_classes=1000)
    path = tmp_path / "mobilenet_imagenet.pth"
    torch.save(imagenet.state_dict(), path)
    m = build_network("mobilenet_v3_small", 3, init=path)
    src = imagenet.state_dict()
    for k, v in m.state_dict().items():
        if k.startswith("classifier.3"):
            continue
        assert torch.equal(v, src[k]), k
    head = get_module(m, "classifier.3")
    assert head.out_features == 3 and head.in_features == imagenet.classifier[3].in_features
    # a scratch network differs: the file really was used
    fresh = build_network("mobilenet_v3_small")
    assert not torch.equal(fresh.state_dict()["features.0.0.weight"], src["features.0.0.weight"])


def test_init_rejects_wrong_file(tmp_path):
    import torchvision
    path = tmp_path / "resnet.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    with pytest.raises(ValueError, match="not a torchvision"):
        build_network("mobilenet_v3_small", 3, init=path)
    with pytest.raises(ValueError, match="does not exist"):
        build_network("resnet18", 3, init=tmp_path / "missing.pth")


def test_logistic_baseline_learns_separable_table():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 30)
    x = rng.normal(size=(90, 8))
    x[y == 0, 0] += 3
    x[y == 1, 1] += 3
    m = RegionalLogReg().fit(x, y)
    assert (m.predict_proba(x).argmax(1) == y).mean() > 0.9
    m2 = RegionalLogReg.from_state(m.state())
    np.testing.assert_allclose(m2.predict_proba(x[:5]), m.predict_proba(x[:5]))


def test_config_network_names_are_the_model_registry():
    """The config and CLI list networks without importing torch; they must stay the registry."""
    from models import networks
    from processor.config import NETWORK_NAMES
    assert tuple(NETWORK_NAMES) == tuple(networks.ALL)


def test_os16_variant_doubles_the_grad_cam_grid_with_the_same_weights():
    import torch
    from models.networks import build_network, get_module
    plain, dilated = build_network("mobilenet_v3_small"), build_network("mobilenet_v3_small_os16")
    assert [p.shape for p in plain.parameters()] == [p.shape for p in dilated.parameters()]
    x = torch.zeros(1, 3, 160, 160)
    shapes = {}
    for name, m in (("plain", plain), ("dilated", dilated)):
        layer = get_module(m, "features.12")
        hook = layer.register_forward_hook(lambda _m, _i, o, name=name: shapes.__setitem__(name, tuple(o.shape[-2:])))
        m.eval()(x)
        hook.remove()
    assert shapes == {"plain": (5, 5), "dilated": (10, 10)}
