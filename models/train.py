"""Training: N seeded repeats on one simulated data set, early stopping on validation, one
checkpoint per repeat, curves as PNG, and a model directory that ``models.inference`` loads.

The repeats differ only in their seed (initialisation and batch order), as the paper's 20
training runs did, so their spread is the SD of Table 1; at inference they form an ensemble.
"""
from __future__ import annotations

import copy
import dataclasses
import datetime as _dt
import hashlib
import json
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn
from tqdm import tqdm

from atlas.render.composite import get_layout
from models import CARD_SCHEMA, CLASSES
from models.atypicality import FILE_NAME as ATYPICALITY_FILE
from models.atypicality import AtypicalityModel
from models.calibration import combine, fit_combination
from models.metrics import aggregate, confusion, scores
from models.networks import (BASELINE, MEAN, NETWORKS, STD, RegionalLogReg, build_network, count_parameters, predict_images,
                             resolve_device, to_input)
from models.simulate import SimDataset
from spectssp import __version__
from spectssp.fsutil import atomic_write, atomic_write_bytes, file_sha256
from spectssp.resources import threads_for_one_task

log = logging.getLogger(__name__)

RESEARCH_USE = "RESEARCH USE ONLY - NOT FOR DIAGNOSIS"


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by every repeat."""

    network: str = "mobilenet_v3_small_os16"
    repeats: int = 5
    epochs: int = 30                  # at most; early stopping usually ends sooner
    patience: int = 5                 # epochs without a better validation score
    batch_size: int = 32
    learning_rate: float | None = None  # None: the network's default (models.networks.NETWORKS)
    weight_decay: float = 1e-4
    seed: int = 1
    device: str = "cpu"               # cpu | cuda | auto
    threads: int = 0                  # torch CPU threads; 0: every core this process may use
    init: str | None = None           # local torchvision ImageNet state dict


def seed_everything(seed: int) -> None:
    """Same seed, same weights and batch order (deterministic kernels where torch has them)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def _logits(out: Any) -> torch.Tensor:
    return out.logits if hasattr(out, "logits") else out


def train_repeat(ds: SimDataset, cfg: TrainConfig, repeat: int, progress: bool = True,
                 ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Train one repeat; returns the best state dict (by validation) and the history."""
    device = resolve_device(cfg.device)
    seed = cfg.seed * 1000 + repeat
    seed_everything(seed)
    model = build_network(cfg.network, len(CLASSES), cfg.init).to(device)
    # torchvision's MobileNetV3/EfficientNet use BatchNorm momentum 0.01: with a few hundred
    # steps the running statistics stay near their initial values and eval-mode predictions
    # collapse to one class. 0.1 lets them follow the data within an epoch.
    for mod in model.modules():
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            mod.momentum = 0.1
    lr = cfg.learning_rate or NETWORKS[cfg.network].lr
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=cfg.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    tr, va = ds.subset("training"), ds.subset("validation")
    gen = torch.Generator().manual_seed(seed)
    y_all = torch.from_numpy(ds.labels)
    hist: dict[str, Any] = {"seed": seed, "lr": lr, "train_loss": [], "val_loss": [], "val_accuracy": [],
                            "train_accuracy": []}
    best: tuple[float, float] = (-1.0, float("inf"))
    best_state = copy.deepcopy(model.state_dict())
    best_epoch, stale = 0, 0
    bar = tqdm(range(cfg.epochs), desc=f"{cfg.network} repeat {repeat + 1}/{cfg.repeats}", unit="epoch",
               disable=not progress)
    for epoch in bar:
        model.train()
        order = tr[torch.randperm(len(tr), generator=gen).numpy()]
        total, correct, n = 0.0, 0, 0
        for s in range(0, len(order), cfg.batch_size):
            idx = order[s:s + cfg.batch_size]
            if len(idx) < 2:   # BatchNorm cannot train on a single image
                continue
            x = to_input(ds.images[idx], device)
            y = y_all[idx].to(device)
            opt.zero_grad(set_to_none=True)
            out = _logits(model(x))
            loss = loss_fn(out, y)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            correct += int((out.argmax(1) == y).sum())
            n += len(idx)
        probs = predict_images(model, ds.images[va], device)
        yv = ds.labels[va]
        vloss = float(-np.log(np.clip(probs[np.arange(len(yv)), yv], 1e-7, 1)).mean())
        vacc = float((probs.argmax(1) == yv).mean())
        hist["train_loss"].append(total / max(n, 1))
        hist["train_accuracy"].append(correct / max(n, 1))
        hist["val_loss"].append(vloss)
        hist["val_accuracy"].append(vacc)
        bar.set_postfix(loss=f"{total / max(n, 1):.3f}", val_acc=f"{vacc:.3f}", val_loss=f"{vloss:.3f}")
        if (vacc, -vloss) > (best[0], -best[1]):
            best, best_epoch, stale = (vacc, vloss), epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    bar.close()
    hist["best_epoch"] = best_epoch
    hist["epochs_run"] = len(hist["train_loss"])
    return best_state, hist


def evaluate_sets(ds: SimDataset, probs: np.ndarray) -> dict[str, Any]:
    """Table 1 scores of the training and validation images from (N, 3) probabilities."""
    out = {}
    for which in ("training", "validation"):
        idx = ds.subset(which)
        cm = confusion(ds.labels[idx], probs[idx].argmax(1), len(CLASSES))
        out[which] = dict(scores(cm, CLASSES), confusion=cm.tolist())
    return out


def save_state(state: dict[str, torch.Tensor], path: Path, half: bool = True) -> str:
    """Write a state dict (float tensors as float16 to keep the model small); returns sha256."""
    st = {k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu()) for k, v in state.items()}
    atomic_write(path, lambda fh: torch.save(st, fh))
    return file_sha256(path)


def plot_curves(histories: list[dict[str, Any]], path: Path, title: str) -> None:
    fig = Figure(figsize=(10, 4))  # no pyplot: no global figure state, no GUI backend
    a, b = fig.subplots(1, 2)
    for i, h in enumerate(histories):
        ep = np.arange(1, len(h["train_loss"]) + 1)
        a.plot(ep, h["train_loss"], color=f"C{i % 10}", lw=1, label=f"repeat {i + 1} train")
        a.plot(ep, h["val_loss"], color=f"C{i % 10}", lw=1, ls="--")
        b.plot(ep, h["val_accuracy"], color=f"C{i % 10}", lw=1)
        b.plot(ep, h["train_accuracy"], color=f"C{i % 10}", lw=0.7, alpha=0.4)
    a.set_xlabel("epoch"), a.set_ylabel("cross-entropy (solid train, dashed validation)")
    b.set_xlabel("epoch"), b.set_ylabel("accuracy (solid validation, faint train)"), b.set_ylim(0, 1.02)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def regional_member(ds: SimDataset, cfg: TrainConfig, cnn_probs: np.ndarray, weights: list[dict[str, Any]],
                    out_dir: Path) -> dict[str, Any]:
    """Fit the regional logistic regression on the training images' regional Z tables, choose
    the CNN weight and temperature on the validation images only, write ``regional_logreg.npz``
    and return the card's ``ensemble`` entry (members, weights, calibration, combined metrics)."""
    tr, va = ds.subset("training"), ds.subset("validation")
    reg = RegionalLogReg(seed=cfg.seed).fit(ds.features[tr], ds.labels[tr])
    reg_probs = reg.predict_proba(ds.features)
    calibration = fit_combination(cnn_probs[va], reg_probs[va], ds.labels[va])
    path = out_dir / "regional_logreg.npz"
    atomic_write(path, lambda fh: np.savez(fh, **reg.state()))
    w, t = calibration["cnn_weight"], calibration["temperature"]
    log.info("combined model: CNN weight %.2f, temperature %.3f; validation log-loss %.3f -> %.3f", w, t,
             calibration["validation"]["cnn"]["log_loss"], calibration["validation"]["combined"]["log_loss"])
    return {"members": [{"model": "cnn", "network": cfg.network, "weights": [x["file"] for x in weights], "weight": w},
                        {"model": "regional_logreg", "file": path.name, "sha256": file_sha256(path),
                         "features": ds.manifest.get("feature_names", []), "weight": calibration["regional_weight"]}],
            "combination": "softmax(log(cnn_weight * CNN ensemble mean + regional_weight * regional) / temperature)",
            "calibration": calibration,
            "heat_map": "the CNN's (its class activation map for the combined call); the regional model adds none",
            "metrics": evaluate_sets(ds, combine(cnn_probs, reg_probs, w, t))}


def atypicality_entry(ds: SimDataset, out_dir: Path) -> dict[str, Any] | None:
    """Fit the "atypical for this database" distance on the training images' regional Z tables
    (the same images the classifier learnt from; threshold from distances cross-fitted by
    normal-database member, see :meth:`AtypicalityModel.fit`), write ``atypicality.npz`` and return the card's
    ``atypicality`` entry with the flag rates on the training and validation images. None for a
    data set without named regional features (a hand-built one): a study's table could not be
    matched to it."""
    names = list(ds.manifest.get("feature_names") or [])
    if not names:
        log.warning("the data set names no regional features: the model gets no atypicality check")
        return None
    tr, va = ds.subset("training"), ds.subset("validation")
    model = AtypicalityModel.fit(ds.features[tr], ds.labels[tr], names,
                                 groups=ds.member[tr])
    path = out_dir / ATYPICALITY_FILE
    atomic_write_bytes(path, model.to_bytes())
    entry = model.card_entry(path.name, file_sha256(path), ds.features[tr], ds.features[va],
                             "the training images' distances, each member's images measured against a fit "
                             "without that normal-database member")
    log.info("atypicality: threshold %.3f (quantile %g); flagged %.3f of training, %.3f of validation images",
             model.threshold, model.quantile, entry["flag_rate"]["training"], entry["flag_rate"]["validation"])
    return entry


def train_model(ds: SimDataset, cfg: TrainConfig, out_dir: Path, *, ndb_info: dict[str, Any],
                atlas_sha256: str, dataset_dir: Path | None = None,
                inference: dict[str, Any] | None = None, progress: bool = True,
                with_regional: bool = False) -> dict[str, Any]:
    """Train all repeats on ``ds`` and write the model directory; returns the model card.

    ``with_regional``: also fit the regional logistic regression on the same training images
    and store the calibrated combination with the CNN ensemble (see :func:`regional_member`)."""
    if with_regional and cfg.network == BASELINE:
        raise ValueError("the regional model is combined with a CNN; the logreg network is already the regional model")
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.device == "cpu" or (cfg.device == "auto" and not torch.cuda.is_available()):
        torch.set_num_threads(threads_for_one_task(cfg.threads))
    sim = ds.manifest["config"]
    inference = inference or {"references": list(sim["references"]), "z_min": sim["display_ranges"][0][0],
                              "z_max": sim["display_ranges"][0][1]}
    weights, histories, per_repeat, repeat_probs = [], [], [], []
    ensemble = None
    if cfg.network == BASELINE:
        tr = ds.subset("training")
        model = RegionalLogReg(seed=cfg.seed).fit(ds.features[tr], ds.labels[tr])
        probs = model.predict_proba(ds.features)
        per_repeat.append(evaluate_sets(ds, probs))
        path = out_dir / "logreg.npz"
        np.savez(path, **model.state())
        weights.append({"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
        architecture = {"network": BASELINE, "features": ds.manifest.get("feature_names", []),
                        "note": "multinomial logistic regression on the regional mean Z table; deterministic, one fit"}
    else:
        for r in range(cfg.repeats):
            state, hist = train_repeat(ds, cfg, r, progress)
            model = build_network(cfg.network, len(CLASSES))
            model.load_state_dict(state)
            device = resolve_device(cfg.device)
            probs = predict_images(model.to(device), ds.images, device)
            per_repeat.append(evaluate_sets(ds, probs))
            repeat_probs.append(probs)
            hist["final"] = {k: per_repeat[-1][k]["accuracy"] for k in ("training", "validation")}
            histories.append(hist)
            path = out_dir / f"repeat_{r:02d}.pt"
            weights.append({"file": path.name, "sha256": save_state(state, path), "best_epoch": hist["best_epoch"],
                            "epochs_run": hist["epochs_run"], "seed": hist["seed"]})
            log.info("repeat %d: validation accuracy %.3f", r + 1, hist["final"]["validation"])
        plot_curves(histories, out_dir / "curves.png", f"{cfg.network}, protocol {sim['protocol']}")
        (out_dir / "history.json").write_text(json.dumps(histories, indent=1))
        spec = NETWORKS[cfg.network]
        architecture = {"network": cfg.network, "parameters": count_parameters(build_network(cfg.network, 3)),
                        "cam_layer": spec.cam_layer, "cam_method": spec.cam_method, "head": spec.head, "note": spec.note,
                        "normalisation": {"mean": list(MEAN), "std": list(STD)}}
        if with_regional:
            ensemble = regional_member(ds, cfg, np.mean(repeat_probs, axis=0), weights, out_dir)
    atypicality = atypicality_entry(ds, out_dir)
    metrics = {s: aggregate([p[s] for p in per_repeat], CLASSES) for s in ("training", "validation")}
    metrics["per_repeat"] = per_repeat
    created = _dt.datetime.now(_dt.timezone.utc)
    layout = get_layout(sim.get("views", "2x2"))
    if ds.images.shape[1:3] != layout.shape(int(ds.images.shape[1])):
        raise ValueError(f"the data set's images ({ds.images.shape[1]} x {ds.images.shape[2]}) are not a {layout.name} composite")
    shas = [w["sha256"] for w in weights] + [m["sha256"] for m in (ensemble or {}).get("members", []) if "sha256" in m]
    shas += [atypicality["sha256"]] if atypicality else []
    wsha = hashlib.sha256("".join(shas).encode()).hexdigest()
    card = {
        "schema": CARD_SCHEMA,
        "name": f"spectssp-{cfg.network}-{sim['protocol']}",
        "version": f"{created:%Y%m%d}.{wsha[:8]}",
        "intended_use": f"{RESEARCH_USE}. Classifies 3D-SSP decrease Z maps of 123I-IMP brain perfusion "
                        "SPECT as AD, DLB or NC; trained on images simulated from the normal database below.",
        "classes": list(CLASSES),
        "architecture": architecture,
        "input": {"size": int(ds.images.shape[1]), "views": layout.name, "layout": layout.describe(),
                  "channels": "RGB uint8 / 255, ImageNet mean/std"},
        "inference": inference,
        "normal_database": ndb_info,
        "atlas_sha256": atlas_sha256,
        "protocol": sim["protocol"],
        "simulation": sim,
        "data": {"counts": ds.manifest["counts"], "validation_members": ds.manifest["validation_members"],
                 "images_sha256": ds.manifest["images_sha256"], "sim_version": ds.manifest.get("sim_version"),
                 "dataset_dir": str(dataset_dir) if dataset_dir else None},
        "training": dict(dataclasses.asdict(cfg), repeats=len(weights), torch=torch.__version__,
                         seconds=round(time.perf_counter() - t0, 1), software=f"spectssp {__version__}"),
        "weights": weights,
        "metrics": metrics,
        **({"ensemble": ensemble} if ensemble else {}),
        **({"atypicality": atypicality} if atypicality else {}),
        "created": created.isoformat(timespec="seconds"),
    }
    atomic_write_bytes(out_dir / "model.json", json.dumps(card, indent=1).encode("utf-8"))
    return card
