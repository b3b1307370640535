"""Inference for the pipeline: AD/DLB/NC probabilities of one study's 3D-SSP result, with a
Grad-CAM heat map on the CNN composite (its layout from the model card) for the predicted class.

A model directory holds ``model.json`` (the model card) and the weights of every training
repeat; the repeats form an ensemble (probabilities averaged), and each reference region listed
under ``inference.references`` in the card gives one composite whose probabilities are averaged
too (the paper read two suitable references per case). Grad-CAM is computed on the composite of
the first listed reference and averaged over the repeats.

A card with an ``ensemble`` entry (``spectssp train --with-regional-model``) also holds the
regional logistic regression; its probabilities are combined with the CNN ensemble mean and
calibrated as the card says (``models.calibration.combine``). The heat map stays the CNN's.

A card with an ``atypicality`` entry (every model trained since the check exists) also holds the
nearest-class Mahalanobis model of ``models.atypicality``: a study whose regional Z table is
farther from every trained pattern than the calibrated threshold is reported ``indeterminate``
(its probabilities kept) with ``atypical.flagged`` true. Without the entry (models trained
before the check existed) ``atypical`` is None and left out of result.json: their output is unchanged.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from atlas import load_atlas
from atlas.render.composite import PAPER_LAYOUT, CompositeLayout, card_layout, composite, values_image
from models import BUNDLED_MODEL_DIR, CARD_SCHEMA, CLASSES
from models.atypicality import Atypicality, AtypicalityModel
from models.calibration import combine
from models.features import RegionFeatures
from spectssp.resources import threads_for_one_task

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Classification:
    """result.json ``classification``: the reported label, the probabilities rounded for the
    report (class order), the model as ``name@version`` and, when the model has the check, how
    atypical the study is for its training data (left out of result.json when None)."""

    label: str
    probabilities: dict[str, float]
    model: str
    atypical: Atypicality | None = field(default=None, metadata={"omit_none": True})

    @property
    def top(self) -> str:
        """The most probable class (also when the label is ``indeterminate``)."""
        return max(self.probabilities, key=self.probabilities.__getitem__)


@dataclass
class Prediction:
    """One study's classification; ``probabilities`` in ``classes`` order."""

    probabilities: np.ndarray          # (3,) ensemble mean
    member_probabilities: np.ndarray   # (M, 3): each repeat (averaged over references)
    composite: np.ndarray              # (H, W, 3) uint8: the network input (first reference)
    heat: np.ndarray                   # (H, W) float32 in [0, 1]: Grad-CAM of the predicted class
    gradcam_rgb: np.ndarray            # (H, W, 3) uint8: the views with the heat overlaid
    model: str                         # name@version
    reference: str                     # reference region of ``composite``
    classes: tuple[str, ...] = field(default=CLASSES)
    phantom_trained: bool = False      # trained against the bundled phantom database (demonstration only)
    heat_method: str = "Grad-CAM"      # what made ``heat`` (Grad-CAM, LayerCAM, regional contributions)
    atypical: Atypicality | None = None  # None: the model card has no atypicality check
    layout: CompositeLayout = PAPER_LAYOUT  # where each view sits in ``composite`` and ``heat``

    @property
    def top(self) -> int:
        return int(np.argmax(self.probabilities))

    def label(self, indeterminate_below: float = 0.0) -> str:
        """The top class, or ``indeterminate`` when its probability is under the threshold or
        the study is atypical for the training data (not forced into a class)."""
        if self.atypical is not None and self.atypical.flagged:
            return "indeterminate"
        return self.classes[self.top] if float(self.probabilities[self.top]) >= indeterminate_below else "indeterminate"

    def classification(self, indeterminate_below: float) -> Classification:
        """This prediction as result.json reports it."""
        return Classification(self.label(indeterminate_below),
                              {c: round(float(p), 4) for c, p in zip(self.classes, self.probabilities)},
                              self.model, self.atypical)


# -- pictures -------------------------------------------------------------------------------
def heat_overlay(base_rgb: np.ndarray, heat: np.ndarray, alpha: float = 0.65) -> np.ndarray:
    """Jet-coloured ``heat`` (0..1) over ``base_rgb`` (the grey template surface of the same
    layout, see :func:`grey_composite`), on brain pixels only and in proportion to the heat,
    so a reader sees where the network looked without confusing it with the Z rainbow."""
    from matplotlib import colormaps  # deferred: matplotlib, only for heat overlays
    brain = base_rgb.max(axis=2) > 0
    h = np.clip(np.nan_to_num(heat), 0.0, 1.0) * brain
    top = float(h.max())
    if top > 0:
        h = h / top
    colour = colormaps["jet"](h)[..., :3] * 255.0
    w = (alpha * np.clip(h * 1.4 - 0.2, 0, 1))[..., None]
    return np.clip(base_rgb.astype(np.float32) * (1 - w) + colour * w, 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=4)
def grey_composite(size: int, layout: CompositeLayout = PAPER_LAYOUT) -> np.ndarray:
    """The CNN layout with the grey template surface only (identical for every study)."""
    surface = load_atlas().surface
    return composite(surface, np.full(surface.n_pixels, -np.inf, np.float32), 0.0, 1.0, size, layout)


# -- the classifier -------------------------------------------------------------------------
class Classifier:
    """A loaded model directory: an ensemble of repeats of one network, or the baseline."""

    def __init__(self, model_dir: Path, card: dict[str, Any], card_sha256: str, device: str = "cpu") -> None:
        self.model_dir, self.card, self.card_sha256 = Path(model_dir), card, card_sha256
        self.classes = tuple(card["classes"])
        if self.classes != CLASSES:
            raise ValueError(f"model classes {self.classes} are not {CLASSES}")
        inf = card["inference"]
        self.references: list[str] = list(inf["references"])
        self.z_min, self.z_max = float(inf["z_min"]), float(inf["z_max"])
        self.size = int(card["input"]["size"])
        self.layout = card_layout(card)
        self.network = card["architecture"]["network"]
        self.members: list[Any] = []
        self.baseline = None
        self.regional = None                  # the regional member of a combined model
        self.combination: dict[str, Any] | None = None
        self.phantom_trained = is_phantom_trained(self.model_dir, card)
        self.atypicality: AtypicalityModel | None = None
        if card.get("atypicality"):
            entry = card["atypicality"]
            if not isinstance(entry, dict) or not entry.get("file") or not entry.get("sha256"):
                raise ValueError("the model card's atypicality entry names no file or no sha256")
            self.atypicality = AtypicalityModel.load(self.model_dir / entry["file"], entry["sha256"])
        if self.network == "logreg":
            self.baseline = self._logreg(card["weights"][0]["file"])
            self.device = None
        else:
            self._load_networks(device)
            if card.get("ensemble"):
                self._load_regional(card["ensemble"])

    def _logreg(self, file_name: str):
        """A regional logistic regression saved in this model directory (baseline or member)."""
        from models.networks import RegionalLogReg  # deferred: models.networks imports torch
        with np.load(self.model_dir / file_name) as z:
            return RegionalLogReg.from_state({k: z[k] for k in z.files})

    def _load_regional(self, ensemble: dict[str, Any]) -> None:
        member = next((m for m in ensemble.get("members", []) if m.get("model") == "regional_logreg"), None)
        cal = ensemble.get("calibration") or {}
        if member is None or "cnn_weight" not in cal or "temperature" not in cal:
            raise ValueError("the model card's ensemble lists no regional model or no calibration")
        self.regional = self._logreg(member["file"])
        self.combination = {"cnn_weight": float(cal["cnn_weight"]), "temperature": float(cal["temperature"]),
                            "features": list(member.get("features") or [])}

    def combined(self, cnn: np.ndarray, features: np.ndarray) -> np.ndarray:
        """(N, 3) calibrated combination of CNN ensemble means (N, 3) and regional Z tables (N, F)."""
        if self.regional is None or self.combination is None:
            raise ValueError("this model has no regional member")
        return combine(cnn, self.regional.predict_proba(features), self.combination["cnn_weight"],
                       self.combination["temperature"])

    @functools.lru_cache(maxsize=2)
    def _features(self, references: tuple[str, ...]) -> RegionFeatures:
        """The regional Z table of a study with these references, checked against the feature
        names the regional member and the atypicality model were fitted on."""
        feats = RegionFeatures(load_atlas().pixel_voi, list(references))
        want = self.combination["features"] if self.combination else []
        if want and feats.names != want:
            raise ValueError("the study's reference regions differ from those the regional model was trained on")
        if self.atypicality is not None and tuple(feats.names) != self.atypicality.feature_names:
            raise ValueError("the study's reference regions differ from those the atypicality check was fitted on")
        return feats

    def _atypical(self, features: np.ndarray | None) -> Atypicality | None:
        return self.atypicality.assess(features) if self.atypicality is not None and features is not None else None

    def _load_networks(self, device: str) -> None:
        import torch  # deferred: torch costs seconds (9 s measured at start-up); loaded in the background

        from models.networks import build_network, resolve_device  # deferred: models.networks imports torch
        self.device = resolve_device(device)
        for w in self.card["weights"]:
            path = self.model_dir / w["file"]
            state = torch.load(path, map_location="cpu", weights_only=True)
            state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
            net = build_network(self.network, len(CLASSES))
            net.load_state_dict(state)
            self.members.append(net.to(self.device).eval())
        if not self.members:
            raise ValueError("the model card lists no weights")

    @property
    def name(self) -> str:
        return str(self.card["name"])

    @functools.cached_property
    def heat_method(self) -> str:
        """How the heat map is made, as the panel names it."""
        if self.baseline is not None:
            return "regional contributions"
        from models.networks import NETWORKS  # deferred: models.networks imports torch
        method = NETWORKS[self.network].cam_method
        return "Grad-CAM" if method == "GradCAM" else method

    @property
    def version(self) -> str:
        return str(self.card["version"])

    @property
    def tag(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def normal_database_sha256(self) -> str | None:
        """The database the model was trained against (the pipeline may compare it with its own)."""
        return card_normal_database_sha256(self.card)

    # -- images -> probabilities ------------------------------------------------------------
    def member_probs(self, images: np.ndarray, batch: int = 64) -> np.ndarray:
        """(M, N, 3) probabilities of every repeat for (N, H, W, 3) uint8 composites."""
        import torch  # deferred: torch costs seconds (9 s measured at start-up); loaded in the background

        from models.networks import predict_images  # deferred: models.networks imports torch
        if self.baseline is not None:
            raise ValueError("the regional baseline classifies Z tables, not images")
        want = self.layout.shape(self.size)
        if images.shape[1:3] != want:
            raise ValueError(f"images must be {want[0]} x {want[1]} ({self.layout.name} composite), got {images.shape[1:3]}")
        with torch.inference_mode():
            return np.stack([predict_images(m, images, self.device, batch) for m in self.members])

    def gradcam(self, image: np.ndarray, cls: int) -> np.ndarray:
        """(H, W) class activation map (the network's method: Grad-CAM or LayerCAM) of class
        ``cls`` on one composite, averaged over the repeats, 0..1."""
        import pytorch_grad_cam  # deferred: torch, scikit-learn and matplotlib (several s), with the model
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        from models.networks import NETWORKS, get_module, to_input  # deferred: models.networks imports torch
        x = to_input(image[None], self.device)
        spec = NETWORKS[self.network]
        method = getattr(pytorch_grad_cam, spec.cam_method)
        cams = []
        for m in self.members:
            with method(model=m, target_layers=[get_module(m, spec.cam_layer)]) as cam:
                cams.append(cam(input_tensor=x, targets=[ClassifierOutputTarget(cls)])[0])
        heat = np.mean(cams, axis=0).astype(np.float32)
        top = float(heat.max())
        return heat / top if top > 0 else heat

    # -- the pipeline's call ----------------------------------------------------------------
    def predict_ssp(self, surface, ssp) -> Prediction:
        """Classify one study's :class:`atlas.analysis.SSPResult`."""
        missing = [r for r in self.references if r not in ssp.references]
        if missing:
            raise ValueError(f"the study has no Z map for reference {missing[0]}")
        comps = np.stack([composite(surface, ssp.z_for(r), self.z_min, self.z_max, self.size, self.layout) for r in self.references])
        if self.baseline is not None:
            return self._predict_baseline(surface, ssp, comps[0])
        member = self.member_probs(comps).mean(axis=1)       # (M, 3), mean over references
        probs = member.mean(axis=0)
        x = (self._features(tuple(ssp.references))(ssp.z)
             if self.regional is not None or self.atypicality is not None else None)
        if self.regional is not None:
            probs = self.combined(probs[None], x)[0]
        top = int(np.argmax(probs))
        heat = self.gradcam(comps[0], top)
        return Prediction(probs, member, comps[0], heat, heat_overlay(grey_composite(self.size, self.layout), heat), self.tag,
                          self.references[0], phantom_trained=self.phantom_trained, heat_method=self.heat_method,
                          atypical=self._atypical(x), layout=self.layout)

    def _predict_baseline(self, surface, ssp, comp: np.ndarray) -> Prediction:
        feats = self._features(tuple(ssp.references))
        x = feats(ssp.z)
        probs = self.baseline.predict_proba(x)[0]
        top = int(np.argmax(probs))
        # Heat: positive contribution of each region of the first reference to the top class.
        contrib = self.baseline.contributions(x, top).reshape(len(ssp.references), -1)
        row = np.clip(contrib[ssp.references.index(self.references[0])], 0, None)
        values = np.zeros(surface.n_pixels, np.float32)
        for m, c in zip(feats.masks, row):
            values[m] = c
        heat = values_image(surface, values, self.size, self.layout)
        heat = heat / heat.max() if heat.max() > 0 else heat
        return Prediction(probs, probs[None], comp, heat, heat_overlay(grey_composite(self.size, self.layout), heat), self.tag,
                          self.references[0], phantom_trained=self.phantom_trained, heat_method=self.heat_method,
                          atypical=self._atypical(x), layout=self.layout)


def read_card(model_dir: Path) -> tuple[dict[str, Any], str]:
    """(model card, sha256 of model.json); ValueError when it is missing or not a card."""
    path = Path(model_dir) / "model.json"
    try:
        raw = path.read_bytes()
        card = json.loads(raw)
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"no readable model card at {path}: {exc}") from None
    if not isinstance(card, dict) or card.get("schema") != CARD_SCHEMA:
        raise ValueError(f"{path} is not a {CARD_SCHEMA} model card")
    return card, hashlib.sha256(raw).hexdigest()


def verify_model(model_dir: Path) -> tuple[dict[str, Any], str]:
    """(model card, sha256 of model.json) once every weights file it lists is present and
    matches its sha256; ValueError otherwise. Cheap (no torch): the pipeline checks this before
    it loads the networks in the background, so a broken model still stops it at start-up."""
    model_dir = Path(model_dir)
    card, sha = read_card(model_dir)
    if tuple(card.get("classes", ())) != CLASSES:
        raise ValueError(f"model classes {tuple(card.get('classes', ()))} are not {CLASSES}")
    extra = [m for m in (card.get("ensemble") or {}).get("members", []) if "file" in m]
    extra += [card["atypicality"]] if card.get("atypicality") else []
    for w in card.get("weights", []) + extra:
        p = model_dir / w["file"]
        if not p.is_file():
            raise ValueError(f"weights file {p.name} listed in the model card is missing")
        if hashlib.sha256(p.read_bytes()).hexdigest() != w["sha256"]:
            raise ValueError(f"weights file {p.name} does not match the sha256 in the model card")
    return card, sha


def card_normal_database_sha256(card: dict[str, Any]) -> str | None:
    """The database a model card says the model was trained against."""
    return (card.get("normal_database") or {}).get("sha256")


@functools.lru_cache(maxsize=1)
def _bundled_database_sha256() -> str | None:
    """The phantom normal database the bundled model was trained against (from its card)."""
    try:
        return card_normal_database_sha256(json.loads((BUNDLED_MODEL_DIR / "model.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def is_phantom_trained(model_dir: Path, card: dict[str, Any]) -> bool:
    """Whether a model is the bundled one or was trained against the bundled phantom database,
    wherever it is stored: either way it has seen digital phantoms only, and every output must
    say so (a copy or a retrained candidate is not a site model)."""
    if Path(model_dir).resolve() == BUNDLED_MODEL_DIR:
        return True
    sha = card_normal_database_sha256(card)
    return sha is not None and sha == _bundled_database_sha256()


def load_classifier(model_dir: Path, device: str = "cpu",
                    verified: tuple[dict[str, Any], str] | None = None, threads: int = 0) -> Classifier:
    """Load a model directory written by ``spectssp train``; checks weights against the card
    (unless ``verified`` is what :func:`verify_model` returned for it). ``threads``: torch CPU
    threads, 0: every core this process may use (:mod:`spectssp.resources`)."""
    model_dir = Path(model_dir)
    card, sha = verified if verified is not None else verify_model(model_dir)
    try:
        import torch  # deferred: torch costs seconds (9 s measured at start-up); loaded in the background
        if device in ("cpu", "auto"):
            torch.set_num_threads(threads_for_one_task(threads))
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return Classifier(model_dir, card, sha, device)


def import_heat_method(clf: Classifier) -> None:
    """Import what :meth:`Classifier.gradcam` needs (pytorch_grad_cam pulls in scikit-learn and
    matplotlib: seconds), so a process that loads the model ahead does not pay it on its first
    study."""
    if clf.baseline is None:
        import pytorch_grad_cam  # noqa: F401
