"""``python -m tests.processor.daemon.run_fake_daemon CONFIG``: the real daemon loop, inotify and
signal handling, with the fake processing function (for SIGTERM and kill -9 tests)."""
from __future__ import annotations

import logging
import sys

from processor.config import load_config
from processor.daemon import Daemon
from tests.processor.daemon.fakes import FACTORY


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(process)d %(levelname)s %(message)s")
    daemon = Daemon(load_config(argv[0]), factory=FACTORY)
    daemon.install_signal_handlers()
    return daemon.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
