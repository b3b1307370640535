"""Arguments of ``spectssp train`` (the command itself: ``processor/cli/train.py``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from processor.cli.common import add_config_arg
from processor.config import COMPOSITE_LAYOUTS
from processor.config import NETWORK_NAMES as NETWORK_CHOICES

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
    p.add_argument("--batch-size", type=int, default=None, metavar="N",
                   help="images per training step (default: training.batch_size)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the network's)")
    p.add_argument("--images-per-class", type=int, default=None, metavar="N", help="default 369 (paper)")
    p.add_argument("--validation-per-class", type=int, default=None, metavar="N", help="default 28 (paper)")
    p.add_argument("--image-size", type=int, default=None, metavar="PX", help="composite height (227 paper, 160 ours)")
    p.add_argument("--views", choices=COMPOSITE_LAYOUTS, default=None,
                   help="composite layout: 2x2, the paper's four views (lateral and medial of each hemisphere); "
                        "2x3 adds the posterior and inferior views, where occipital (DLB) decreases face the "
                        "camera (the image is 1.5x as wide; training takes about 1.5x as long). Default: training.views (2x2)")
    p.add_argument("--init", type=Path, default=None, metavar="PATH",
                   help="local torchvision ImageNet state dict to start from (head replaced); nothing is downloaded")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None,
                   help="where torch trains (auto: a GPU when there is one; default: training.device)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: training.threads; 0: every core this process may use)")
    p.add_argument("--seed", type=int, default=None,
                   help="simulation seed; repeat r trains with seed * 1000 + r (default: training.seed)")
    p.add_argument("--cache-dir", type=Path, default=None, metavar="DIR", help="simulated data set cache")
    p.add_argument("--with-regional-model", action="store_true",
                   help="also fit the regional logistic regression (mean Z per region) on the same training images "
                        "and combine it with the CNN repeats; weight and temperature chosen on the validation set")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_config_arg(p)
    return p
