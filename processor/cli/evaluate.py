"""``spectssp evaluate``: the paper's Table 1 for a model on its simulated sets and on test studies."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import yaml

from atlas import load_atlas
from atlas.normaldb import NormalDatabase
from models import evaluate as ev
from models.inference import load_classifier
from models.metrics import fmt
from models.simulate import GENERAL_KEYS, SimulationConfig, build_or_load, load_dataset
from processor import evaluation
from processor.cli.common import show_progress
from processor.config import from_dict, load_config
from processor.pipeline import resolve_normal_database
from spectssp.errors import ErrorCode, SpectSSPError

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    cfg = _config(args)
    progress = show_progress(args)
    try:
        clf = load_classifier(args.model, cfg.classifier.device)
    except (OSError, ValueError) as exc:
        raise SpectSSPError(ErrorCode.MODEL_ERROR, f"cannot load the model: {exc}") from None
    sets, entries, data_notes = [], [], []
    if not args.no_simulated:
        sets, entries, data_notes = _simulated_sets(clf, cfg, args, progress)
    data_sets = _data_sets(args.data)
    if data_sets:
        entries = []
        for name, folder in data_sets.items():
            work = args.out / "pipeline" if len(data_sets) == 1 else args.out / "pipeline" / name
            test, found, note = _test_set(clf, cfg, name, folder, work, progress)
            sets.append(test)
            entries.extend(found)
            data_notes.append(note)
    if not sets:
        raise SpectSSPError(ErrorCode.INPUT_NOT_FOUND, "nothing to evaluate: give --data or keep the simulated sets.")
    reports = _write_report(clf, sets, entries, data_notes, args)
    _print_summary(reports, clf.card["classes"], args.out)
    return 0


def _config(args: argparse.Namespace):
    """The run's config: --config's settings (validated) with --model, --normaldb and --device."""
    if not (args.model / "model.json").is_file():
        raise SpectSSPError(ErrorCode.INPUT_NOT_FOUND, f"{str(args.model)!r} is not a model directory (no model.json).")
    _data_sets(args.data)  # every --data named once and a folder, before any work
    base: dict = {}
    base_dir = Path.cwd()
    if args.config is not None:
        load_config(args.config)  # validates (one-sentence errors) before we reuse the mapping
        base = yaml.safe_load(args.config.read_text(encoding="utf-8")) or {}
        base_dir = args.config.resolve().parent
    base["model"] = str(args.model.resolve())
    if args.normaldb is not None:
        base["normal_database"] = str(args.normaldb.resolve())
        base["normal_databases"] = []  # --normaldb names the one database evaluated
    if args.device:
        base.setdefault("classifier", {})["device"] = args.device
    return from_dict(base, base_dir=base_dir)


def _simulated_sets(clf, cfg, args: argparse.Namespace, progress: bool) -> tuple[list, list, list[str]]:
    """(sets, gallery entries, data notes) of the training and validation sets, or nothing
    (with a line saying why) when the simulated data set is gone and cannot be made again."""
    card = clf.card
    ds = _simulated(card, cfg, args, progress)
    if ds is None:
        if args.normaldb is None:
            print("training/validation sets skipped: the cached data set is gone and no --normaldb was given")
        return [], [], []
    sets = list(ev.simulated_sets(clf, ds))
    notes = [f"training/validation: simulated, protocol {card['protocol']}, {ds.manifest['counts']}"]
    entries = ev.simulated_gallery_entries(clf, ds) if not args.data else []
    return sets, entries, notes


def _data_sets(values: list[str] | None) -> dict[str, Path]:
    """{set name: folder} from the ``--data [NAME=]DIR`` values; one unnamed value is "test"."""
    out: dict[str, Path] = {}
    for value in values or []:
        name, sep, folder = value.partition("=")
        if not sep:
            name, folder = "test", value
        name = name.strip()
        if len(values) > 1 and not sep:
            raise SpectSSPError(ErrorCode.CONFIG_INVALID, f"--data {value!r}: name each of several test sets "
                                "(--data NAME=DIR).")
        if not name or name in ("training", "validation") or name in out:
            raise SpectSSPError(ErrorCode.CONFIG_INVALID, f"--data {value!r}: a set name must be given once and "
                                "must not be 'training' or 'validation'.")
        if not Path(folder).is_dir():
            raise SpectSSPError(ErrorCode.INPUT_NOT_FOUND, f"--data {folder!r} is not a folder.")
        out[name] = Path(folder)
    return out


def _test_set(clf, cfg, name: str, folder: Path, work_dir: Path, progress: bool) -> tuple[object, list, str]:
    """(test set, gallery entries, data note) of one --data folder through the whole pipeline."""
    try:
        studies = evaluation.find_studies(folder)
    except ValueError as exc:
        raise SpectSSPError(ErrorCode.INPUT_NOT_FOUND, str(exc) + ".") from None
    ndb_sha = NormalDatabase.load(resolve_normal_database(cfg), volumes=False).sha256()
    if clf.normal_database_sha256 and ndb_sha != clf.normal_database_sha256:
        print("warning: the normal database differs from the one the model was trained against")
    try:
        test, entries = evaluation.pipeline_set(cfg, studies, work_dir, progress, name=name)
    except ValueError as exc:
        raise SpectSSPError(ErrorCode.MODEL_ERROR, str(exc) + ".") from None
    return test, entries, f"{name}: {len(studies)} DICOM studies from {folder} through the whole pipeline"


def _write_report(clf, sets: list, entries: list, data_notes: list[str], args: argparse.Namespace) -> dict:
    """report.md / report.json, the confusion plots and the Grad-CAM gallery in --out; returns
    the per-set reports."""
    reports = {s.name: s.report() for s in sets}
    report = {"schema": "spectssp.evaluation/1", "model": clf.tag, "model_card_sha256": clf.card_sha256,
              "repeats": int(sets[0].member_probs.shape[0]), "data": "; ".join(data_notes), "sets": reports,
              "items": {s.name: s.items for s in sets}}
    args.out.mkdir(parents=True, exist_ok=True)
    if args.data:
        report["gradcam_localisation"] = ev.gradcam_localisation(entries, load_atlas())
    ev.plot_confusions(reports, args.out / "confusion.png", clf.tag)
    n_tiles = ev.gallery(entries, args.out / "gradcam_gallery.png", args.gallery)
    report["gallery"] = {"file": "gradcam_gallery.png" if n_tiles else None, "tiles": n_tiles}
    ev.write_reports(report, args.out)
    return reports


def _print_summary(reports: dict, classes: list[str], out: Path) -> None:
    for name, r in reports.items():
        rec = "  ".join(f"{c} {fmt(r['repeats']['per_class'][c]['recall'])}" for c in classes)
        print(f"{name:<10} n={r['n']:<5} accuracy {fmt(r['repeats']['accuracy'])}  recall {rec}  "
              f"(ensemble accuracy {r['ensemble']['accuracy']:.3f}, failed {len(r['failed'])})")
    print(f"report: {out / 'report.md'}")


def _simulated(card: dict, cfg, args: argparse.Namespace, progress: bool):
    """The model's simulated data set: the cache named in its card, else simulated again."""
    d = (card.get("data") or {}).get("dataset_dir")
    if d and (Path(d) / "manifest.json").is_file():
        try:
            ds = load_dataset(Path(d))
            if ds.manifest["images_sha256"] == card["data"]["images_sha256"]:
                return ds
        except (OSError, ValueError, KeyError):
            pass
    if args.normaldb is None:
        return None
    ndb = NormalDatabase.load(args.normaldb)
    sim = dict(card["simulation"])
    protocol = sim.pop("protocol")
    if protocol == "paper":
        sim = {k: v for k, v in sim.items() if k in GENERAL_KEYS}
    cache = args.cache_dir or (Path(cfg.training.cache_dir) if cfg.training.cache_dir else None)
    ds, _ = build_or_load(ndb, load_atlas(), SimulationConfig.for_protocol(protocol, **sim), cache, progress=progress)
    if ds.manifest["images_sha256"] != (card.get("data") or {}).get("images_sha256"):
        # another simulation version or database: these are not the images the model saw
        print("training/validation sets skipped: simulating again did not reproduce the model's training images "
              "(another normal database or simulation version)")
        return None
    return ds
