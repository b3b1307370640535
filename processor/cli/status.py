"""``spectssp status``: queue and ledger summary (``--json`` for monitoring)."""
from __future__ import annotations

import argparse
import json

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


def run(args: argparse.Namespace) -> int:
    from processor.config import load_config
    from processor.daemon.status import format_text, summary

    cfg = load_config(args.config)
    s = summary(cfg, n_errors=max(0, args.errors))
    print(json.dumps(s, indent=1) if args.json else format_text(s))
    return 0
