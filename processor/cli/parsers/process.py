"""Arguments of ``spectssp process`` (the command itself: ``processor/cli/process.py``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from processor.cli.common import add_config_arg

HELP = """\
Process SPECT studies once: intake, registration to MNI space, 3D-SSP Z maps against the
normal database, classification when a model is configured, and outputs (result.json, sheet
PNGs, DICOM Secondary Capture and SR). One result folder per series in --out, named by the
SeriesInstanceUID. Exit status 0 when every input was processed, 1 when any was rejected or
failed (each result.json says why, with an error code).

example:
  spectssp process /data/incoming/study1 --out /data/results
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("process", help="process DICOM files or folders once", description=HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="DICOM files or folders (searched recursively)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="where result folders are written")
    add_config_arg(p)
    p.add_argument("--json", action="store_true", help="print the results as a JSON list instead of a table")
    return p
