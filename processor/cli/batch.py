"""``spectssp batch``: an archive on Dask distributed (processor.batch does the work)."""
from __future__ import annotations

import argparse
import logging
import sys

from processor.batch import BatchOptions, run_batch
from processor.cli.common import existing_inputs, show_progress
from processor.config import load_config
from spectssp.errors import ConfigError


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    if not args.verbose:   # the scheduler's INFO lines (connections, retiring workers) are not the user's business
        logging.getLogger("distributed").setLevel(logging.WARNING)
    for name in ("workers", "threads_per_worker"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be 0 (from the machine) or a positive number, "
                              f"got {value}.")
    opts = BatchOptions(existing_inputs(args.inputs), args.out, cfg, scheduler=args.scheduler,
                        workers=args.workers or 0, threads_per_worker=args.threads_per_worker or 0,
                        force=args.force, progress=show_progress(args))
    report = run_batch(opts)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(report.statuses.items())) or "nothing new"
    print(f"{report.processed} series processed ({counts}), {report.skipped} skipped; "
          f"summary in {args.out / 'summary.csv'}")
    if report.interrupted:
        print("stopped before the end: run the same command again to complete the archive", file=sys.stderr)
        return 130
    return 0 if report.all_ok else 1
