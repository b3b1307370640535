"""``spectssp train``: simulate training images from a normal database and train a classifier."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from processor.cli.common import add_config_arg
from processor.config import NETWORK_NAMES as NETWORK_CHOICES

log = logging.getLogger(__name__)

HELP = """\
Train the AD/DLB/NC classifier on images simulated from a normal database (the paper's idea:
disease is simulated in the normal members' MNI volumes, then 3D-SSP against the database
without that member). Writes a model directory for `model:` in the config.

  spectssp train --normaldb site.ndb --out site-model/
  spectssp train --normaldb site.ndb --out paper-alexnet/ --protocol paper --network alexnet --repeats 20

Defaults come from the `training:` section of the config; options override them. The
simulated data set is cached (see --cache-dir), so repeated runs skip the simulation.
The default (protocol ours, mobilenet_v3_small_os16, 5 repeats) takes about 10-15 minutes on 2
free CPU cores. RESEARCH USE ONLY.
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("train", help="train the classifier on simulated images", description=HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--normaldb", type=Path, required=True, metavar="FILE", help="normal database (.ndb) with volumes")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="model directory to write")
    p.add_argument("--protocol", choices=("ours", "paper"), default=None, help="simulation protocol (default: ours)")
    p.add_argument("--network", choices=NETWORK_CHOICES, default=None, help="network (default: mobilenet_v3_small_os16)")
    p.add_argument("--repeats", type=int, default=None, metavar="N", help="training repeats (default 5)")
    p.add_argument("--epochs", type=int, default=None, metavar="N", help="maximum epochs per repeat (default 25)")
    p.add_argument("--patience", type=int, default=None, metavar="N", help="early-stopping patience in epochs")
    p.add_argument("--batch-size", type=int, default=None, metavar="N")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the network's)")
    p.add_argument("--images-per-class", type=int, default=None, metavar="N", help="default 369 (paper)")
    p.add_argument("--validation-per-class", type=int, default=None, metavar="N", help="default 28 (paper)")
    p.add_argument("--image-size", type=int, default=None, metavar="PX", help="composite size (227 paper, 160 ours)")
    p.add_argument("--init", type=Path, default=None, metavar="PATH",
                   help="local torchvision ImageNet state dict to start from (head replaced); nothing is downloaded")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (at most 2 used)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--cache-dir", type=Path, default=None, metavar="DIR", help="simulated data set cache")
    p.add_argument("--with-regional-model", action="store_true",
                   help="also fit the regional logistic regression (mean Z per region) on the same training images "
                        "and combine it with the CNN repeats; weight and temperature chosen on the validation set")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_config_arg(p)
    return p


def _pick(cli, cfg_value):
    return cfg_value if cli is None else cli


def run(args: argparse.Namespace) -> int:
    from atlas import load_atlas
    from atlas.normaldb import NormalDatabase
    from spectssp.errors import ErrorCode
    from processor.config import load_config
    from spectssp.errors import SpectSSPError

    cfg = load_config(args.config)
    t = cfg.training
    try:
        ndb = NormalDatabase.load(args.normaldb)
    except ValueError as exc:
        raise SpectSSPError(ErrorCode.NORMAL_DB_MISMATCH, str(exc)) from None
    if ndb.volumes is None:
        raise SpectSSPError(ErrorCode.NORMAL_DB_MISMATCH, f"{args.normaldb} holds no member volumes, which the "
                            "simulation needs; rebuild it with 'spectssp normaldb build'.")
    atlas = load_atlas()
    if ndb.meta.get("atlas_sha256") not in (None, atlas.sha256):
        raise SpectSSPError(ErrorCode.NORMAL_DB_MISMATCH, "the normal database was built on another atlas version.")
    if args.init is not None and not args.init.is_file():
        raise SpectSSPError(ErrorCode.INPUT_NOT_FOUND, f"--init file {str(args.init)!r} does not exist.")

    from models.simulate import SimulationConfig, build_or_load
    from models.train import TrainConfig, train_model

    protocol = _pick(args.protocol, t.protocol)
    size = _pick(args.image_size, t.image_size) or (227 if protocol == "paper" else 160)
    general = dict(images_per_class=_pick(args.images_per_class, t.images_per_class),
                   validation_per_class=_pick(args.validation_per_class, t.validation_per_class),
                   image_size=size, seed=_pick(args.seed, t.seed))
    knobs = {} if protocol == "paper" else dict(t.simulation)
    try:
        sim = SimulationConfig.for_protocol(protocol, **general, **knobs)
    except ValueError as exc:
        raise SpectSSPError(ErrorCode.CONFIG_INVALID, str(exc) + ".") from None
    tc = TrainConfig(network=_pick(args.network, t.network), repeats=_pick(args.repeats, t.repeats),
                     epochs=_pick(args.epochs, t.epochs), patience=_pick(args.patience, t.patience),
                     batch_size=_pick(args.batch_size, t.batch_size), learning_rate=_pick(args.lr, t.learning_rate),
                     seed=_pick(args.seed, t.seed), device=_pick(args.device, t.device),
                     threads=_pick(args.threads, t.threads), init=str(args.init) if args.init else None)
    if tc.init and tc.network in ("tiny", "logreg"):
        raise SpectSSPError(ErrorCode.CONFIG_INVALID, f"--init applies to torchvision networks, not {tc.network}.")
    if args.with_regional_model and tc.network == "logreg":
        raise SpectSSPError(ErrorCode.CONFIG_INVALID, "--with-regional-model combines the regional model with a CNN; "
                            "the logreg network is the regional model alone.")
    progress = not args.no_progress
    cache = Path(args.cache_dir) if args.cache_dir else (Path(t.cache_dir) if t.cache_dir else None)
    ds, folder = build_or_load(ndb, atlas, sim, cache, progress=progress)
    print(f"data set {folder}: " + ", ".join(f"{s} " + "/".join(f"{c} {n}" for c, n in v.items())
                                               for s, v in ds.manifest["counts"].items()))
    inference = {"references": list(t.inference_references), "z_min": sim.display_ranges[0][0],
                 "z_max": sim.display_ranges[0][1]}
    ndb_info = {"sha256": ndb.sha256(), "n": ndb.n, "tracer": ndb.tracer, "file": Path(args.normaldb).name,
                "depth_mm": ndb.meta.get("depth_mm")}
    try:
        card = train_model(ds, tc, args.out, ndb_info=ndb_info, atlas_sha256=atlas.sha256, dataset_dir=folder,
                           inference=inference, progress=progress, with_regional=args.with_regional_model)
    except ValueError as exc:
        raise SpectSSPError(ErrorCode.CONFIG_INVALID, str(exc)) from None
    from models.metrics import fmt
    m = card["metrics"]
    print(f"model {card['name']}@{card['version']} -> {args.out}  ({card['training']['repeats']} repeat(s), "
          f"{card['training']['seconds']:.0f} s)")
    for s in ("training", "validation"):
        rec = "  ".join(f"{c} {fmt(m[s]['per_class'][c]['recall'])}" for c in card["classes"])
        print(f"  {s:<10} accuracy {fmt(m[s]['accuracy'])}   recall {rec}")
    if "ensemble" in card:
        cal = card["ensemble"]["calibration"]
        v = cal["validation"]
        print(f"  combined with the regional model: CNN weight {cal['cnn_weight']:.2f}, temperature "
              f"{cal['temperature']:.3f}; validation accuracy {v['combined']['accuracy']:.3f}, log-loss "
              f"{v['cnn']['log_loss']:.3f} (CNN) -> {v['combined']['log_loss']:.3f}, ECE {v['cnn']['ece']:.3f} -> "
              f"{v['combined']['ece']:.3f}")
    return 0
