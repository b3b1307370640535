"""Helpers shared by the command modules."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spectssp.errors import ErrorCode
from spectssp.errors import SpectSSPError


def add_config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=None, metavar="FILE",
                   help="YAML settings (see config.yaml); defaults are used for anything it omits")


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars only where someone watches them: standard error is a terminal, and neither
    -q nor --no-progress was given. A bar redrawn into a log file or a pipe is noise there."""
    return sys.stderr.isatty() and not getattr(args, "quiet", False) and not getattr(args, "no_progress", False)


def existing_inputs(paths: list[Path]) -> list[Path]:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise SpectSSPError(ErrorCode.INPUT_NOT_FOUND, f"input {missing[0]!r} does not exist"
                            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "") + ".")
    return paths
