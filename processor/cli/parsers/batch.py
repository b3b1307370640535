"""Arguments of ``spectssp batch`` (the command itself: ``processor/cli/batch.py``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from processor.cli.common import add_config_arg

HELP = """\
Reprocess an archive on Dask distributed: every series under the inputs (found from headers
only) is one task; each gets the result folder `spectssp process` writes, in --out, and a row
in --out/summary.csv as soon as it is done. A second run skips series whose result is already
there for the same input files, settings, normal database and model (--force redoes them).
Without --scheduler a local cluster uses this machine's cores and memory. A worker that dies
is replaced and its series runs again; a series that ends its worker daemon.max_attempts times
is failed with worker_crashed. Ctrl-C or SIGTERM: stop submitting and let running series
finish (twice: abandon them); a re-run completes the archive. Exit status 0 when every series
is ok, 1 otherwise, 130 when stopped.

examples:
  spectssp batch /archive --out /results/archive
  dask scheduler &   dask worker tcp://HOST:8786 --nworkers 16 --nthreads 1   (each node)
  spectssp batch /shared/archive --out /shared/results --scheduler tcp://HOST:8786
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("batch", help="reprocess an archive on Dask distributed (resumable)", description=HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="DICOM files or folders (searched recursively)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="where result folders and summary.csv go")
    add_config_arg(p)
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="a running Dask scheduler (tcp://host:8786); default: a local cluster on this machine")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local worker processes (default: batch.workers; 0 there: from cores and memory)")
    p.add_argument("--threads-per-worker", type=int, default=None, metavar="N",
                   help="threads of each series' registration and classifier (default: registration.threads; "
                        "0 there: the cores divided among the workers)")
    p.add_argument("--force", action="store_true", help="redo series whose result is already there")
    return p
