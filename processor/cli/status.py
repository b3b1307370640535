"""``spectssp status``: queue and ledger summary (``--json`` for monitoring)."""
from __future__ import annotations

import argparse
import json

from processor.config import load_config
from processor.daemon.status import format_text, summary


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    s = summary(cfg, n_errors=max(0, args.errors))
    print(json.dumps(s, indent=1) if args.json else format_text(s))
    return 0
