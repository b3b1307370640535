"""Arguments of ``spectssp evaluate`` (the command itself: ``processor/cli/evaluate.py``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from processor.cli.common import add_config_arg

HELP = """\
Evaluate a model directory (from `spectssp train`) as the paper's Table 1: per set and class
precision, recall and F-measure, and accuracy, as mean +- SD over the training repeats, plus
the ensemble's confusion matrices, report.md / report.json, PNG plots and a Grad-CAM gallery.

  spectssp evaluate --model site-model/ --out eval/                       # training + validation
  spectssp evaluate --model site-model/ --data TEST/ --normaldb site.ndb --out eval/
  spectssp evaluate --model M/ --data worldB=B/ --data worldA=A/ --no-simulated --out eval/

--data [NAME=]DIR holds DICOM studies as DIR/<AD|DLB|NC>/<study>/; each goes through the whole
pipeline (intake, registration, 3D-SSP, classification) with --config's settings. Give it
several times, each with a NAME, to report several test sets (for example two phantom worlds)
side by side in one report; one unnamed --data is the set "test". The training
and validation sets are the model's cached simulated data set, simulated again from --normaldb
when the cache is gone. RESEARCH USE ONLY.
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("evaluate", help="Table 1 metrics, confusion matrices and Grad-CAM gallery",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True, metavar="DIR", help="model directory")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="report directory")
    p.add_argument("--data", action="append", default=None, metavar="[NAME=]DIR",
                   help="test studies DIR/<class>/<study>/ (repeat with NAME= for several sets)")
    p.add_argument("--normaldb", type=Path, default=None, metavar="FILE",
                   help="normal database for the pipeline and for re-simulating (default: the config's)")
    p.add_argument("--no-simulated", action="store_true", help="skip the training and validation sets")
    p.add_argument("--gallery", type=int, default=3, metavar="N", help="correct and wrong calls per class shown")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None,
                   help="where torch runs the networks (default: classifier.device)")
    p.add_argument("--cache-dir", type=Path, default=None, metavar="DIR", help="simulated data set cache")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (logs and the report are unchanged)")
    add_config_arg(p)
    return p
