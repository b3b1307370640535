"""``spectssp watch``: the daemon (watch folder, optional DICOM receiver, delivery)."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from processor import logsetup
from processor.config import load_config
from processor.daemon import Daemon
from processor.web import WebServer
from spectssp.errors import ConfigError

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    log_dir = args.log_dir if args.log_dir is not None else Path(cfg.paths.state) / "logs"
    verbosity = -1 if args.quiet else args.verbose
    log_file = logsetup.configure(verbosity, log_dir, ["spectssp", *sys.argv[1:]])
    if args.workers is not None and args.workers < 1:
        raise ConfigError("--workers must be at least 1.")
    daemon = Daemon(cfg, workers=args.workers, log_file=str(log_file) if log_file else None)
    web = WebServer(cfg).start() if cfg.web.enabled else None   # a bad web.* setting stops us before the daemon starts
    try:
        daemon.install_signal_handlers()
        return daemon.run()  # AlreadyRunning is a SpectSSPError: main prints its code, exit status 1
    finally:
        if web is not None:
            web.stop()
