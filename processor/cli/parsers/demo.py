"""Arguments of ``spectssp demo`` (the command itself: ``processor/cli/demo.py``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from processor.cli.common import add_config_arg

HELP = """\
Make NC, AD and DLB phantom studies (seeds never used for the bundled normal database or
model), then process them with the bundled normal database and model, and print what came
out. Everything lands in --out: phantoms/ (DICOM and truth) and results/.
Digital phantoms only: no real patient data.
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("demo", help="make phantom studies and process them end to end", description=HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("demo-out"), metavar="DIR",
                   help="folder for the phantoms and the results (default: demo-out)")
    add_config_arg(p)
    return p
