"""Evaluation through the whole product: test studies go through :class:`Pipeline` (intake,
registration, 3D-SSP, classification) exactly as a site runs them, and their per-repeat
predictions become a ``models.evaluate.SetPredictions`` for the paper's Table 1.

It lives above the pipeline (docs/architecture.md); the metrics and reports it feeds stay in
``models.evaluate``, which knows nothing of the pipeline.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from models import CLASSES
from models.evaluate import SetPredictions, phantom_variant
from processor.pipeline import single_pipeline

log = logging.getLogger(__name__)


def find_studies(data_dir: Path) -> list[tuple[str, Path]]:
    """(class, study folder) for every ``DIR/<class>/<study>/``; class names as in CLASSES."""
    data_dir = Path(data_dir)
    found = []
    names = {c.lower(): c for c in CLASSES}
    for cdir in sorted(p for p in data_dir.iterdir() if p.is_dir()):
        label = names.get(cdir.name.lower())
        if label is None:
            log.warning("skipping %s: not one of %s", cdir, ", ".join(CLASSES))
            continue
        found.extend((label, s) for s in sorted(p for p in cdir.iterdir() if p.is_dir()))
    if not found:
        raise ValueError(f"no studies under {data_dir}: expected {data_dir}/<AD|DLB|NC>/<study>/")
    return found


class _Recorder:
    """Wraps the pipeline's classifier to keep each Prediction (per-repeat probabilities)."""

    def __init__(self, clf) -> None:
        self.clf = clf
        self.calls: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.clf, name)

    def predict_ssp(self, surface, ssp):
        p = self.clf.predict_ssp(surface, ssp)
        self.calls.append(p)
        return p


def pipeline_set(cfg, studies: list[tuple[str, Path]], work_dir: Path, progress: bool = True, name: str = "test",
                 ) -> tuple[SetPredictions, list[tuple[str, str, Any]]]:
    """Run every study through the product pipeline; returns the test set ``name`` and its predictions."""
    pipe = single_pipeline(cfg, "evaluate")
    if pipe.classifier is None:
        raise ValueError("the configuration has no model")
    rec = _Recorder(pipe.classifier)
    pipe.classifier = rec
    probs, labels, items, failed, preds, variants, reported, model_probs = [], [], [], [], [], [], [], []
    atypical: list[bool] = []
    for label, study in tqdm(studies, desc=f"{name} studies", unit="study", disable=not progress):
        rec.calls.clear()
        results = pipe.process_paths(sorted(p for p in study.rglob("*") if p.is_file()), work_dir / label / study.name)
        calls = list(rec.calls)
        for res in results:
            cls = res.get("classification")
            if res.get("status") != "ok" or not cls:
                failed.append({"study": f"{label}/{study.name}", "status": res.get("status"),
                               "error": res.get("error")})
                continue
            p = calls.pop(0)
            probs.append(p.member_probabilities)
            model_probs.append(p.probabilities)
            labels.append(CLASSES.index(label))
            items.append(f"{label}/{study.name}")
            variants.append(phantom_variant(study))
            reported.append(str(cls["label"]))
            atypical.append(bool((cls.get("atypical") or {}).get("flagged")))
            preds.append((label, f"{label}/{study.name}", p))
    if not probs:
        raise ValueError("no test study was classified; see the failures in the pipeline output")
    mp = np.stack(probs, axis=1)  # (M, N, 3)
    combined = np.stack(model_probs) if getattr(rec.clf, "regional", None) is not None else None
    has_check = getattr(rec.clf, "atypicality", None) is not None
    return SetPredictions(name, mp, np.array(labels), items, failed, variants, reported, combined,
                          atypical if has_check else []), preds
