"""Arguments of ``spectssp watch`` (the command itself: ``processor/cli/watch.py``)."""
from __future__ import annotations

import argparse

from processor.cli.common import add_config_arg

HELP = """\
Run the processing daemon. Series that arrive in paths.incoming (copied there, or received
by the DICOM receiver when scp.enabled) are processed once they have been quiet for
intake.quiet_period_s; results go to paths.output and, for DICOM outputs, to every configured
destination. The job ledger, archive, quarantine, outbox and logs live in paths.state.

SIGTERM or Ctrl-C: stop taking new work, finish running jobs, exit 0. After a crash or
kill -9, the next start resumes: nothing is lost or processed twice.

example:
  spectssp watch --config /etc/spectssp/site.yaml
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("watch", help="run the daemon: watch folder, DICOM receiver, delivery", description=HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arg(p)
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="parallel jobs (default: daemon.workers; 0 there means from cores and memory)")
    return p
