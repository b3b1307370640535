"""Arguments of ``spectssp inspect`` (the command itself: ``processor/cli/inspect.py``)."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "inspect", help="show the series found under paths and whether intake accepts them",
        description="Read DICOM files and folders (recursively), group them into series and print "
                    "one line per series: patient ID, study date, series UID, modality, matrix, "
                    "voxel size, tracer, and the verdict with its reason. Exit 0 when every series "
                    "is accepted, 1 when any is rejected.")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="DICOM files or folders")
    p.add_argument("--config", type=Path, default=None,
                   help="config file whose 'intake:' section sets the limits and tracer policy")
    p.add_argument("--tracer", default=None, metavar="NAME",
                   help="tracer the normal database covers (e.g. IMP); a mismatch is handled by "
                        "intake.tracer_policy (default: not checked)")
    p.add_argument("--warnings", action="store_true", help="also print the warnings of each series and where its tracer was read")
    return p
