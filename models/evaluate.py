"""The paper's Table 1 for any model and data: per set (training, validation, test) and class,
precision, recall and F-measure, and accuracy, as mean +- SD over the training repeats, plus
the ensemble's confusion matrices, Markdown and JSON reports, PNG plots and a Grad-CAM gallery.

Training and validation images come from the model's simulated data set (the cache named in
the card, or simulated again from the normal database). Test data are DICOM studies in
``DIR/<class>/<study>/`` and go through the whole product (``processor.pipeline.Pipeline``:
intake, registration, 3D-SSP, classification), so the test measures what a site would run.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from PIL import Image, ImageDraw

from atlas import voi
from atlas.render.composite import PAPER_LAYOUT, CompositeLayout, composite
from models import CLASSES
from models.inference import Prediction, grey_composite, heat_overlay
from models.metrics import aggregate, confusion, expected_calibration_error, fmt, reliability_bins, scores
from spectssp.fsutil import atomic_write_bytes

log = logging.getLogger(__name__)

PAPER_TABLE1 = {  # AlexNet (GoogLeNet where the paper gives it), PAPER.md
    "test": {"recall": {"AD": "0.52+-0.12 (0.82+-0.12)", "DLB": "0.74+-0.09 (0.42+-0.12)", "NC": "0.76+-0.06 (0.78+-0.08)"},
             "precision": {"AD": "0.70+-0.08", "DLB": "0.53+-0.08", "NC": "0.93+-0.04"},
             "f_measure": {"AD": "0.58+-0.06", "DLB": "0.61+-0.02", "NC": "0.83+-0.02"},
             "accuracy": "0.68+-0.02 (0.68+-0.01)"},
    "training": {"recall": {"AD": "1.00", "DLB": "0.88+-0.08", "NC": "0.99+-0.01"}, "accuracy": "0.96+-0.02"},
    "validation": {"recall": {"AD": "0.96+-0.03 (0.96+-0.02)", "DLB": "0.94+-0.04 (0.88+-0.04)",
                              "NC": "0.98+-0.01 (0.96+-0.05)"}, "accuracy": "0.96+-0.01 (0.93+-0.02)"},
}


@dataclass
class SetPredictions:
    """Per-repeat probabilities of one set: (M, N, 3), true labels (N,), item names."""

    name: str
    member_probs: np.ndarray
    labels: np.ndarray
    items: list[str]
    failed: list[dict[str, Any]] = field(default_factory=list)   # test studies without a label
    # per item, for test studies (their calls are listed): the phantom's variant, None if unknown
    variants: list[str | None] = field(default_factory=list)
    # per item, for test studies: the label the product reported (a class or "indeterminate")
    product_labels: list[str] = field(default_factory=list)
    # (N, 3) the model's own probabilities where they are not the mean of the repeats (a model
    # combined with the regional model and calibrated); None: the repeats' mean
    probabilities: np.ndarray | None = None
    # per item: whether the model's atypicality check flagged it (the product then reported
    # ``indeterminate``); empty when the model has no check
    atypical: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.items)
        if self.member_probs.shape[1] != n or len(self.labels) != n:
            raise ValueError("probabilities, labels and items must have one entry per item")
        if self.probabilities is not None and self.probabilities.shape != (n, self.member_probs.shape[2]):
            raise ValueError("the model's probabilities must have one row per item")
        for name in ("variants", "product_labels", "atypical"):
            if getattr(self, name) and len(getattr(self, name)) != n:
                raise ValueError(f"{name} must be empty or have one entry per item")

    def report(self) -> dict[str, Any]:
        per_repeat = []
        for m in range(self.member_probs.shape[0]):
            cm = confusion(self.labels, self.member_probs[m].argmax(1), len(CLASSES))
            per_repeat.append(dict(scores(cm, CLASSES), confusion=cm.tolist()))
        combined = self.probabilities is not None
        ens = self.probabilities if combined else self.member_probs.mean(0)
        top = ens.argmax(1)                              # the ensemble's call per item
        ens_cm = confusion(self.labels, top, len(CLASSES))
        calibration = {"probabilities": "combined with the regional model, calibrated" if combined else "ensemble mean",
                       "ece": round(expected_calibration_error(ens, self.labels), 4),
                       "bins": reliability_bins(ens, self.labels)}
        out = {"n": int(len(self.labels)), "repeats": aggregate(per_repeat, CLASSES), "per_repeat": per_repeat,
               "ensemble": dict(scores(ens_cm, CLASSES), confusion=ens_cm.tolist()), "calibration": calibration,
               "failed": self.failed, "indeterminate": sum(pl == "indeterminate" for pl in self.product_labels),
               "atypical": int(sum(self.atypical))}
        if self.product_labels:
            out["product"] = product_scores(self.labels, self.product_labels)
        if self.variants:
            product = self.product_labels or [None] * len(self.items)
            out["calls"] = [{"item": item, "true": CLASSES[int(t)], "call": CLASSES[int(c)],
                             "product_label": pl, "probabilities": [round(float(x), 4) for x in p], "variant": v}
                            for item, t, c, p, pl, v in zip(self.items, self.labels, top, ens, product, self.variants,
                                                            strict=True)]
            if any(v is not None for v in self.variants):
                out["by_variant"] = recall_by_variant(self.labels, top, self.variants, self.product_labels)
        return out


def product_scores(labels: np.ndarray, product_labels: list[str]) -> dict[str, Any]:
    """Accuracy and recall of what the product reported: an ``indeterminate`` label counts as
    a miss (the ensemble's top-class scores above count the top class instead)."""
    hits = np.array([CLASSES[int(t)] == pl for t, pl in zip(labels, product_labels, strict=True)])
    recall = {c: round(float(hits[labels == i].mean()), 3) if (labels == i).any() else None
              for i, c in enumerate(CLASSES)}
    return {"accuracy": round(float(hits.mean()), 3), "recall": recall,
            "indeterminate": int(sum(pl == "indeterminate" for pl in product_labels))}


def recall_by_variant(labels: np.ndarray, calls: np.ndarray, variants: list[str | None],
                      product_labels: list[str] | None = None) -> dict[str, Any]:
    """Ensemble (top-class) recall of each true class split by the phantom's disease variant
    (typical, asymmetric, partial, mild; ``none`` for NC), with how many of each the product
    reported ``indeterminate``: shows which kind of case the misses are."""
    product = product_labels or [None] * len(labels)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for t, c, v, pl in zip(labels, calls, variants, product, strict=True):
        if v is None:
            continue
        cell = out.setdefault(CLASSES[int(t)], {}).setdefault(v, {"n": 0, "correct": 0, "indeterminate": 0})
        cell["n"] += 1
        cell["correct"] += int(t == c)
        cell["indeterminate"] += int(pl == "indeterminate")
    for per in out.values():
        for cell in per.values():
            cell["recall"] = round(cell["correct"] / cell["n"], 3)
    return out


def phantom_variant(study: Path) -> str | None:
    """The disease variant from a phantom's ``<study>.truth.json`` beside the study folder
    (``spectssp phantom`` writes it); None for real studies or an unreadable file."""
    f = study.parent / f"{study.name}.truth.json"
    try:
        truth = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    v = truth.get("variant") if isinstance(truth, dict) else None
    return str(v) if v is not None else None


# -- the sets -------------------------------------------------------------------------------
def simulated_sets(clf, ds) -> list[SetPredictions]:
    """Training and validation sets of a simulated data set, each repeat separately."""
    if clf.baseline is not None:
        probs = clf.baseline.predict_proba(ds.features)[None]
    else:
        probs = clf.member_probs(ds.images)
    combined = clf.combined(probs.mean(0), ds.features) if clf.regional is not None else None
    check = getattr(clf, "atypicality", None)
    flagged = check.flagged(ds.features) if check is not None else None
    out = []
    for which in ("training", "validation"):
        idx = ds.subset(which)
        out.append(SetPredictions(which, probs[:, idx], ds.labels[idx], [f"{which}-{i}" for i in idx],
                                  probabilities=None if combined is None else combined[idx],
                                  atypical=[] if flagged is None else [bool(f) for f in flagged[idx]]))
    return out


# -- where Grad-CAM looks -------------------------------------------------------------------
def region_masks(atlas, size: int, layout: CompositeLayout = PAPER_LAYOUT) -> dict[str, np.ndarray]:
    """(size, width) bool masks of the AD regions, the DLB regions and the whole brain surface in
    the composite: the composite renderer itself draws them (Z at the top of the scale on the
    region's pixels), so masks and network input share every pixel."""
    pv = atlas.pixel_voi
    sets = {"AD": np.isin(pv, [voi.LABELS[n] for n in voi.AD_REGIONS]),
            "DLB": np.isin(pv, [voi.LABELS[n] for n in voi.DLB_REGIONS]),
            "brain": np.ones(pv.shape, bool)}
    masks = {}
    for name, on in sets.items():
        rgb = composite(atlas.surface, np.where(on, 5.0, 0.0).astype(np.float32), 0.0, 5.0, size,
                        layout).astype(np.int16)
        masks[name] = (rgb.max(axis=2) - rgb.min(axis=2)) > 60     # coloured, not grey or black
    return masks


def gradcam_localisation(entries: list[tuple[str, str, Any]], atlas) -> dict[str, Any]:
    """For correct AD and DLB calls: the share of the Grad-CAM heat (on the brain) that falls on
    the AD regions and on the DLB regions, beside the share of brain area they cover. Heat that
    follows the disease regions has a share well above the area share for its own class."""
    out: dict[str, Any] = {}
    masks = None
    for cls in ("AD", "DLB"):
        shares = []
        for true, _item, p in entries:
            if true != cls or CLASSES[p.top] != cls:
                continue
            if masks is None:
                masks = region_masks(atlas, p.heat.shape[0], p.layout)
            on_brain = float((p.heat * masks["brain"]).sum())
            if on_brain <= 0:
                continue
            heat = p.heat * masks["brain"]
            hot = (heat >= np.quantile(heat[masks["brain"]], 0.9)) & masks["brain"]   # the hottest tenth
            shares.append([float((heat * masks[r]).sum()) / on_brain for r in ("AD", "DLB")]
                          + [float((hot & masks[r]).sum()) / max(int(hot.sum()), 1) for r in ("AD", "DLB")])
        if shares:
            arr = np.array(shares).mean(axis=0)
            out[cls] = {"calls": len(shares), "heat_share_AD_regions": round(float(arr[0]), 3),
                        "heat_share_DLB_regions": round(float(arr[1]), 3),
                        "hottest_tenth_in_AD_regions": round(float(arr[2]), 3),
                        "hottest_tenth_in_DLB_regions": round(float(arr[3]), 3)}
    if masks is not None:
        area = float(masks["brain"].sum())
        out["area_share"] = {"AD_regions": round(float(masks["AD"].sum()) / area, 3),
                             "DLB_regions": round(float(masks["DLB"].sum()) / area, 3)}
    return out


# -- pictures -------------------------------------------------------------------------------
def plot_confusions(reports: dict[str, dict[str, Any]], path: Path, title: str) -> None:
    sets = list(reports)
    fig = Figure(figsize=(4 * len(sets), 3.8))  # no pyplot: no global figure state, no GUI backend
    axes = fig.subplots(1, len(sets), squeeze=False)
    for ax, s in zip(axes[0], sets):
        cm = np.array(reports[s]["ensemble"]["confusion"])
        ax.imshow(cm, cmap="Blues")
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
        ax.set_xticks(range(len(CLASSES)), CLASSES), ax.set_yticks(range(len(CLASSES)), CLASSES)
        ax.set_xlabel("predicted"), ax.set_ylabel("true")
        ax.set_title(f"{s} (acc {reports[s]['ensemble']['accuracy']:.2f}, n={reports[s]['n']})")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def gallery(entries: list[tuple[str, str, Any]], path: Path, per_group: int = 3) -> int:
    """Grad-CAM gallery: per true class, up to ``per_group`` correct and wrong calls.

    ``entries``: (true class, item name, Prediction). Each tile is the composite beside its
    Grad-CAM overlay with the call written under it. Returns the number of tiles.
    """
    chosen = []
    for c in CLASSES:
        mine = [e for e in entries if e[0] == c]
        right = [e for e in mine if CLASSES[e[2].top] == c][:per_group]
        wrong = [e for e in mine if CLASSES[e[2].top] != c][:per_group]
        chosen.extend(right + wrong)
    if not chosen:
        return 0
    s, w = chosen[0][2].composite.shape[:2]
    tile_w, tile_h = 2 * w, s + 30
    cols = 2
    rows = (len(chosen) + cols - 1) // cols
    canvas = Image.new("RGB", (cols * tile_w, rows * tile_h), "black")
    draw = ImageDraw.Draw(canvas)
    for i, (true, item, p) in enumerate(chosen):
        x, y = (i % cols) * tile_w, (i // cols) * tile_h
        canvas.paste(Image.fromarray(np.concatenate([p.composite, p.gradcam_rgb], axis=1)), (x, y))
        call = CLASSES[p.top]
        mark = "OK" if call == true else "WRONG"
        draw.text((x + 4, y + s + 2), f"{mark} true {true} -> {call} {p.probabilities[p.top]:.2f}", fill="white")
        draw.text((x + 4, y + s + 15), item[:40], fill="grey")
    canvas.save(path)
    return len(chosen)


def simulated_gallery_entries(clf, ds, which: str = "validation", limit: int = 60) -> list[tuple[str, str, Any]]:
    """Predictions with Grad-CAM for simulated images (when there is no test set)."""
    if clf.baseline is not None:
        return []
    idx = ds.subset(which)
    rng = np.random.default_rng(0)
    idx = np.sort(rng.permutation(idx)[:limit])
    mp = clf.member_probs(ds.images[idx])
    out = []
    combined = clf.combined(mp.mean(0), ds.features[idx]) if clf.regional is not None else None
    for k, i in enumerate(idx):
        probs = mp[:, k].mean(0) if combined is None else combined[k]
        heat = clf.gradcam(ds.images[i], int(probs.argmax()))
        grey = grey_composite(ds.images[i].shape[0], clf.layout)
        p = Prediction(probs, mp[:, k], ds.images[i], heat, heat_overlay(grey, heat), clf.tag, "", layout=clf.layout)
        out.append((CLASSES[int(ds.labels[i])], f"{which} image {i}", p))
    return out


# -- reports --------------------------------------------------------------------------------
def markdown(report: dict[str, Any]) -> str:
    """Table 1 layout: rows set x metric, columns classes and accuracy; the paper's beside."""
    lines = [f"# Evaluation of {report['model']}", "",
             f"Mean +- SD over {report['repeats']} training repeat(s); RESEARCH USE ONLY.",
             f"Data: {report['data']}", "",
             "| set | metric | AD | DLB | NC | accuracy |", "|---|---|---|---|---|---|"]
    for s, r in report["sets"].items():
        agg = r["repeats"]
        for k, metric in enumerate(("recall", "precision", "f_measure")):
            cells = [fmt(agg["per_class"][c][metric]) for c in CLASSES]
            acc = fmt(agg["accuracy"]) if k == 0 else ""
            lines.append(f"| {s} (n={r['n']}) | {metric.replace('_', '-')} | " + " | ".join(cells) + f" | {acc} |")
    lines += ["", "Ensemble of the repeats (its top class; the product reports `indeterminate` instead when the top "
              "probability is under the configured threshold or when the model's check finds the study atypical "
              "for its database; `atypical` counts the items that check flags):", "",
              "| set | accuracy | recall AD | recall DLB | recall NC | indeterminate | atypical | failed |",
              "|---|---|---|---|---|---|---|---|"]
    for s, r in report["sets"].items():
        e = r["ensemble"]
        lines.append(f"| {s} | {e['accuracy']:.3f} | " + " | ".join(f"{e['per_class'][c]['recall']:.3f}" for c in CLASSES)
                     + f" | {r.get('indeterminate', 0)} | {r.get('atypical', 0)} | {len(r.get('failed', []))} |")
    for s, r in report["sets"].items():
        if "product" in r:
            pr = r["product"]
            lines += ["", f"What the product reported, {s} (`indeterminate` counted as a miss): accuracy "
                      f"{pr['accuracy']:.3f}, recall " + ", ".join(
                          f"{c} {pr['recall'][c]:.3f}" for c in CLASSES if pr["recall"][c] is not None)
                      + f"; {pr['indeterminate']} indeterminate."]
    for s, r in report["sets"].items():
        cm = r["ensemble"]["confusion"]
        lines += ["", f"Confusion matrix, {s} (rows true, columns predicted; ensemble):", "",
                  "| true \\ predicted | " + " | ".join(CLASSES) + " |", "|---" * (len(CLASSES) + 1) + "|"]
        lines += [f"| {c} | " + " | ".join(str(v) for v in row) + " |" for c, row in zip(CLASSES, cm)]
    lines += ["", "The paper's Table 1 (AlexNet; GoogLeNet in brackets), for comparison:", "",
              "| set | metric | AD | DLB | NC | accuracy |", "|---|---|---|---|---|---|"]
    for s, rows in PAPER_TABLE1.items():
        for metric in ("recall", "precision", "f_measure"):
            if metric in rows:
                acc = rows["accuracy"] if metric == "recall" else ""
                lines.append(f"| {s} | {metric.replace('_', '-')} | " + " | ".join(rows[metric][c] for c in CLASSES)
                             + f" | {acc} |")
    lines += calibration_markdown(report["sets"])
    for s, r in report["sets"].items():
        lines += variant_markdown(s, r.get("by_variant") or {})
    lines += localisation_markdown(report.get("gradcam_localisation") or {})
    return "\n".join(lines) + "\n"


def calibration_markdown(sets: dict[str, Any]) -> list[str]:
    """Expected calibration error per set (reports written before it was measured have none)."""
    rows = [(s, r["calibration"]) for s, r in sets.items() if "calibration" in r]
    if not rows:
        return []
    lines = ["", "Calibration: expected calibration error (ECE; 10 equal-width bins of the top-class probability, "
             "0 when the probabilities mean what they say); reliability diagram in reliability.png:", "",
             "| set | probabilities | ECE |", "|---|---|---|"]
    lines += [f"| {s} | {c['probabilities']} | {c['ece']:.3f} |" for s, c in rows]
    return lines


def plot_reliability(sets: dict[str, Any], path: Path, title: str) -> bool:
    """Reliability diagram per set: accuracy against mean top-class probability in each bin
    (bars) beside the diagonal of perfect calibration, with the bin counts; False when no set
    has calibration bins."""
    rows = [(s, r["calibration"]) for s, r in sets.items() if "calibration" in r]
    if not rows:
        return False
    fig = Figure(figsize=(4 * len(rows), 4))  # no pyplot, as the other plots here
    axes = fig.subplots(1, len(rows), squeeze=False)
    for ax, (s, cal) in zip(axes[0], rows):
        full = [b for b in cal["bins"] if b["n"]]
        ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="perfect")
        ax.bar([(b["lo"] + b["hi"]) / 2 for b in full], [b["accuracy"] for b in full],
               width=[b["hi"] - b["lo"] for b in full], edgecolor="black", color="C0", alpha=0.7, label="accuracy")
        ax.plot([b["confidence"] for b in full], [b["accuracy"] for b in full], "o", color="C3", ms=4,
                label="mean probability")
        for b in full:
            ax.text((b["lo"] + b["hi"]) / 2, min(b["accuracy"] + 0.02, 0.97), str(b["n"]), ha="center", fontsize=7)
        ax.set_xlim(0, 1), ax.set_ylim(0, 1)
        ax.set_xlabel("top-class probability"), ax.set_ylabel("accuracy")
        ax.set_title(f"{s}: ECE {cal['ece']:.3f}", fontsize=10)
        ax.legend(loc="upper left", fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def variant_markdown(set_name: str, by_variant: dict[str, Any]) -> list[str]:
    """The per-variant recall table (phantom test sets only; nothing for real studies)."""
    if not by_variant:
        return []
    cells = [(cls, v, cell) for cls in CLASSES for v, cell in sorted((by_variant.get(cls) or {}).items())]
    known = all("indeterminate" in cell for _, _, cell in cells)   # reports written before it was counted lack it
    lines = ["", f"Recall by phantom variant, {set_name} (ensemble top class; correct / n):", "",
             "| true class | variant | correct / n | recall |" + (" of them reported indeterminate |" if known else ""),
             "|---|---|---|---|" + ("---|" if known else "")]
    for cls, v, cell in cells:
        lines.append(f"| {cls} | {v} | {cell['correct']} / {cell['n']} | {cell['recall']:.2f} |"
                     + (f" {cell['indeterminate']} |" if known else ""))
    return lines


def localisation_markdown(loc: dict[str, Any]) -> list[str]:
    if "area_share" not in loc:
        return []
    a = loc["area_share"]
    lines = ["", "Where the heat map looks (correct AD and DLB test calls; shares of the brain surface in the composite):", "",
             "| calls | n | heat on AD regions | heat on DLB regions | hottest tenth in AD regions | hottest tenth in DLB regions |",
             "|---|---|---|---|---|---|",
             f"| (share of brain area) | | {a['AD_regions']:.2f} | {a['DLB_regions']:.2f} | {a['AD_regions']:.2f} | {a['DLB_regions']:.2f} |"]
    for cls in ("AD", "DLB"):
        if cls in loc:
            r = loc[cls]
            lines.append(f"| {cls} | {r['calls']} | {r['heat_share_AD_regions']:.2f} | {r['heat_share_DLB_regions']:.2f} | "
                         f"{r['hottest_tenth_in_AD_regions']:.2f} | {r['hottest_tenth_in_DLB_regions']:.2f} |")
    return lines


def write_reports(report: dict[str, Any], out_dir: Path) -> None:
    """report.json, report.md and the reliability diagram (reliability.png) in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if plot_reliability(report["sets"], out_dir / "reliability.png", str(report.get("model", ""))):
        report["reliability_diagram"] = "reliability.png"
    for name, text in (("report.json", json.dumps(report, indent=1)), ("report.md", markdown(report))):
        atomic_write_bytes(out_dir / name, text.encode("utf-8"))
