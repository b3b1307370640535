"""``spectssp serve``: the status page alone, or ``--hash-password`` for its config."""
from __future__ import annotations

import argparse
import getpass
import signal
import sys

from processor.config import load_config
from processor.web import WebServer, hash_password
from spectssp.errors import ConfigError


def run(args: argparse.Namespace) -> int:
    if args.hash_password:
        print(hash_password(_read_password()))
        return 0
    cfg = load_config(args.config)
    if args.port is not None and not 0 <= args.port <= 65535:
        raise ConfigError("--port must be a TCP port between 0 and 65535 (0: any free port).")
    server = WebServer(cfg, host=args.host, port=args.port)

    def stop(signum: int, frame: object) -> None:
        # uvicorn handles the signal while it runs, then passes it on to this handler: a
        # clean stop, exit status 0 (the default handler would end the process by the signal)
        server.server.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve()
    return 0


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            raise ConfigError("the two passwords differ; nothing printed.")
    else:
        first = sys.stdin.readline().rstrip("\r\n")
    if len(first) < 8:
        raise ConfigError("the password must have at least 8 characters.")
    return first
