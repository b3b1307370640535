"""Network factories: the paper's AlexNet and GoogLeNet, compact modern networks, a tiny CNN for
CI, and the non-deep baseline (logistic regression on the regional Z table).

Every torchvision network is built with ``weights=None``: nothing is ever downloaded. With
``init`` a local ImageNet state dict in torchvision's format is loaded into the 1000-class
network first and only the last layer is then replaced by a 3-class one, as in the paper's
transfer learning.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from models import CLASSES

# ImageNet statistics: inputs are normalised with them so that ImageNet weights fit.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class NetSpec:
    """How to build a network, where its head is, and where its class activation map looks."""

    build: Callable[[int], nn.Module]     # num_classes -> module (untrained, no download)
    head: str                             # dotted path of the last layer (replaced)
    cam_layer: str                        # dotted path of the class-activation-map target layer
    lr: float                             # default Adam learning rate (from scratch)
    note: str
    cam_method: str = "GradCAM"           # a pytorch-grad-cam class: GradCAM, LayerCAM, ...


def _tv(name: str, **kw: Any) -> Callable[[int], nn.Module]:
    def build(num_classes: int) -> nn.Module:
        import torchvision  # deferred: 2.4 s over torch, only for the torchvision networks
        return getattr(torchvision.models, name)(weights=None, num_classes=num_classes, **kw)
    return build


class TinyCNN(nn.Module):
    """Three conv blocks and a linear head on a 4 x 4 grid (position matters on the composite):
    minutes-scale CI training, not a clinical model."""

    def __init__(self, num_classes: int = 3) -> None:
        super().__init__()
        def block(i: int, o: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(inplace=True))
        self.features = nn.Sequential(block(3, 16), nn.MaxPool2d(2), block(16, 32), nn.MaxPool2d(2), block(32, 32))
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.fc = nn.Linear(32 * 16, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


NETWORKS: dict[str, NetSpec] = {
    "alexnet": NetSpec(_tv("alexnet"), "classifier.6", "features.10", 1e-4,
                       "the paper's network; 57 M parameters (230 MB), too big to commit"),
    "googlenet": NetSpec(_tv("googlenet", aux_logits=False, init_weights=True), "fc", "inception5b", 1e-3,
                         "the paper's second network (no auxiliary heads at inference)"),
    "resnet18": NetSpec(_tv("resnet18"), "fc", "layer4", 1e-3, "11 M parameters"),
    "mobilenet_v3_small": NetSpec(_tv("mobilenet_v3_small"), "classifier.3", "features.12", 1e-3,
                                  "1.5 M parameters (about 8 ms per image per step on the CPU)"),
    # The same network with its last stage dilated instead of strided (torchvision's
    # ``dilated=True``, as in its LR-ASPP segmentation backbone): output stride 16, so Grad-CAM
    # has a 10 x 10 map on a 160 px composite instead of 5 x 5 (each of the 4 views gets 25
    # cells, not 6), with the same weights; about 1.9x the multiply-adds, measured 20 % more CPU
    # time per training image (30.5 against 25.5 ms, batch 32, one thread).
    # Its heat map is LayerCAM (Jiang et al. 2021, IEEE TIP; Grad-CAM's family in
    # pytorch-grad-cam) at features.3 (stride 8, 20 x 20): measured on correct calls of held-out
    # phantoms, Grad-CAM at the last layer put the top 10 % of the DLB heat on the spared frontal
    # cortex (0 % in the DLB regions), LayerCAM at features.3 56 % (the regions are 12 % of the
    # surface); docs/classifier.md.
    "mobilenet_v3_small_os16": NetSpec(_tv("mobilenet_v3_small", dilated=True), "classifier.3", "features.3", 1e-3,
                                       "1.5 M parameters, output stride 16; the default", cam_method="LayerCAM"),
    "efficientnet_b0": NetSpec(_tv("efficientnet_b0"), "classifier.1", "features.8", 1e-3, "4 M parameters"),
    "tiny": NetSpec(TinyCNN, "fc", "features.4", 3e-3, "CI smoke-test network"),
}
DEEP = tuple(NETWORKS)
BASELINE = "logreg"
ALL = DEEP + (BASELINE,)


def get_module(model: nn.Module, dotted: str) -> nn.Module:
    for part in dotted.split("."):
        model = model[int(part)] if part.isdigit() else getattr(model, part)  # type: ignore[index]
    return model


def _set_module(model: nn.Module, dotted: str, new: nn.Module) -> None:
    parent_path, _, last = dotted.rpartition(".")
    parent = get_module(model, parent_path) if parent_path else model
    if last.isdigit():
        parent[int(last)] = new  # type: ignore[index]
    else:
        setattr(parent, last, new)


def build_network(name: str, num_classes: int = 3, init: str | Path | None = None) -> nn.Module:
    """A network with ``num_classes`` outputs; ``init``: local ImageNet weights, head replaced."""
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; choose from {', '.join(ALL)}")
    spec = NETWORKS[name]
    if init is None:
        return spec.build(num_classes)
    path = Path(init)
    if not path.is_file():
        raise ValueError(f"--init file {str(path)!r} does not exist")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    head_w = state.get(f"{spec.head}.weight") if isinstance(state, dict) else None
    if head_w is None:
        raise ValueError(f"{path.name} is not a torchvision {name} state dict (no {spec.head}.weight)")
    model = spec.build(int(head_w.shape[0]))
    missing, unexpected = model.load_state_dict(state, strict=False)
    # GoogLeNet checkpoints carry auxiliary heads we do not build; anything else must match.
    unexpected = [k for k in unexpected if not k.startswith("aux")]
    if missing or unexpected:
        raise ValueError(f"{path.name} does not fit {name}: missing {missing[:3]}, unexpected {unexpected[:3]}")
    old = get_module(model, spec.head)
    if not isinstance(old, nn.Linear):
        raise ValueError(f"the head of {name} is not a linear layer")
    _set_module(model, spec.head, nn.Linear(old.in_features, num_classes))
    return model


def count_parameters(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


# -- the non-deep baseline ------------------------------------------------------------------
class RegionalLogReg:
    """Multinomial logistic regression on the standardised regional Z table (scikit-learn)."""

    def __init__(self, C: float = 1.0, seed: int = 0) -> None:
        self.C, self.seed = C, seed
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None
        self.coef: np.ndarray | None = None
        self.intercept: np.ndarray | None = None

    def fit(self, x: np.ndarray, y: np.ndarray) -> "RegionalLogReg":
        from sklearn.linear_model import LogisticRegression  # deferred: 1.3 s per model load, only to train
        self.mean = x.mean(axis=0)
        self.scale = np.maximum(x.std(axis=0), 1e-6)
        clf = LogisticRegression(C=self.C, max_iter=2000, random_state=self.seed)
        clf.fit((x - self.mean) / self.scale, y)
        if list(clf.classes_) != list(range(3)):
            raise ValueError("training data must contain all three classes")
        self.coef, self.intercept = clf.coef_.astype(np.float32), clf.intercept_.astype(np.float32)
        return self

    def logits(self, x: np.ndarray) -> np.ndarray:
        if self.coef is None:
            raise ValueError("the baseline is not fitted")
        return ((np.atleast_2d(x) - self.mean) / self.scale) @ self.coef.T + self.intercept

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        lg = self.logits(x)
        e = np.exp(lg - lg.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def contributions(self, x: np.ndarray, cls: int) -> np.ndarray:
        """Per-feature contribution to class ``cls``'s logit (the baseline's 'heat')."""
        return ((np.asarray(x) - self.mean) / self.scale) * self.coef[cls]

    def state(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "scale": self.scale, "coef": self.coef, "intercept": self.intercept,
                "C": np.array(self.C)}

    @classmethod
    def from_state(cls, s: dict[str, np.ndarray]) -> "RegionalLogReg":
        m = cls(float(s["C"]))
        m.mean, m.scale, m.coef, m.intercept = s["mean"], s["scale"], s["coef"], s["intercept"]
        return m


# -- running a network on composites (shared by training and inference) ---------------------
def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but no CUDA device is available")
    return torch.device(name)


def to_input(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """(N, S, S, 3) uint8 -> (N, 3, S, S) float, ImageNet-normalised (so ImageNet weights fit)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def predict_images(model: nn.Module, images: np.ndarray, device: torch.device, batch: int = 64) -> np.ndarray:
    """(N, 3) softmax probabilities."""
    model.eval()
    out = []
    for s in range(0, len(images), batch):
        out.append(torch.softmax(model(to_input(images[s:s + batch], device)), dim=1).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)
