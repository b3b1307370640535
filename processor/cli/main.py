"""``spectssp`` entry point: a thin parser over typed functions.

The parser is built from ``processor.cli.parsers`` (argparse only), and a command's module
(``processor/cli/<command>.py``, which imports what it needs at its top) is imported only when
that command runs: so ``--help`` answers at once and a light command never pays for torch or
ANTs. Expected failures (:class:`SpectSSPError`) print one line with a code; configuration
errors exit with status 2.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Callable

from processor import logsetup
from processor.cli.parsers import COMMANDS
from spectssp import __version__, RESEARCH_BANNER
from spectssp.errors import ConfigError, SpectSSPError

EPILOG = f"""\
Typical site workflow:
  spectssp normaldb build NORMALS/ --out site.ndb
  spectssp train --normaldb site.ndb --out site-model/
  spectssp process STUDY/ --out results/ --config site.yaml
  spectssp watch --config site.yaml

{RESEARCH_BANNER}. The bundled normal database and model are built from digital phantoms,
for demonstration and tests only: build your own from your own normal studies.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spectssp",
        description="Brain perfusion SPECT: MNI registration, 3D-SSP Z-score maps, AD/DLB/NC "
                    "classification, DICOM results for PACS.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"spectssp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS.values():
        p = module.add_parser(sub)
        p.add_argument("-v", "--verbose", action="count", default=0, help="more console output (-vv: debug)")
        p.add_argument("-q", "--quiet", action="store_true",
                       help="warnings and errors only, no progress bars (bars are drawn only on a terminal)")
        p.add_argument("--log-dir", type=Path, default=None,
                       help="where the DEBUG log file of this run goes (default: $SPECTSSP_LOG_DIR, "
                            "else ~/.local/state/spectssp/logs)")
    return parser


def command(args: argparse.Namespace) -> Callable[[argparse.Namespace], int | None]:
    """The ``run`` function of the parsed command: ``processor/cli/<command>.py``, or the module
    its parser names for the action. Imported only now, by design: importing every command to
    build the parser would cost ``--help`` 3.5 s (the pipeline, pydicom, torch for training)."""
    name = getattr(args, "command_module", None) or args.command
    return importlib.import_module(f"processor.cli.{name}").run


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    verbosity = -1 if args.quiet else args.verbose
    log_dir = args.log_dir or Path(os.environ.get("SPECTSSP_LOG_DIR")
                                   or Path.home() / ".local" / "state" / "spectssp" / "logs")
    logsetup.configure(verbosity, log_dir, ["spectssp", *argv])
    log = logging.getLogger("spectssp")
    try:
        return int(command(args)(args) or 0)
    except ConfigError as exc:
        print(f"spectssp: error [{exc.code}] {exc.message}", file=sys.stderr)
        return 2
    except SpectSSPError as exc:
        print(f"spectssp: error [{exc.code}] {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("spectssp: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception:  # last resort: a bug. Full trace to the log file, one line to the user.
        log.debug("unexpected error", exc_info=True)
        print("spectssp: error [internal_error] an unexpected error occurred; run with -vv or see "
              "the log file for details, and report it.", file=sys.stderr)
        if verbosity > 0:
            traceback.print_exc()
        return 70


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
