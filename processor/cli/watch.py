"""``spectssp watch``: the daemon (watch folder, optional DICOM receiver, delivery)."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from processor.cli.common import add_config_arg
from spectssp.errors import ConfigError

log = logging.getLogger(__name__)

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


def run(args: argparse.Namespace) -> int:
    from processor import logsetup
    from processor.config import load_config
    from processor.daemon import Daemon

    cfg = load_config(args.config)
    log_dir = args.log_dir if args.log_dir is not None else Path(cfg.paths.state) / "logs"
    verbosity = -1 if args.quiet else args.verbose
    log_file = logsetup.configure(verbosity, log_dir, ["spectssp", *sys.argv[1:]])
    if args.workers is not None and args.workers < 1:
        raise ConfigError("--workers must be at least 1.")
    daemon = Daemon(cfg, workers=args.workers, log_file=str(log_file) if log_file else None)
    daemon.install_signal_handlers()
    return daemon.run()  # AlreadyRunning is a SpectSSPError: main prints its code, exit status 1
