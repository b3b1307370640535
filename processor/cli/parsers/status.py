"""Arguments of ``spectssp status`` (the command itself: ``processor/cli/status.py``)."""
from __future__ import annotations

import argparse

from processor.cli.common import add_config_arg

HELP = """\
Show what the daemon's ledger says: jobs by state, the oldest waiting job, the last errors,
and the delivery backlog per destination. Safe to run while the daemon runs (read-only).
Failed jobs and given-up deliveries are listed (in --json: counts.failed, delivery.*.failed).

example:
  spectssp status --config /etc/spectssp/site.yaml --json
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("status", help="queue and ledger summary", description=HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arg(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--errors", type=int, default=5, metavar="N", help="how many recent errors to list (default 5)")
    return p
