"""Arguments of ``spectssp serve`` (the command itself: ``processor/cli/serve.py``)."""
from __future__ import annotations

import argparse

from processor.cli.common import add_config_arg

HELP = """\
Serve the status page alone (web.* settings; `spectssp watch` serves it too when web.enabled):
what is waiting, running, done, rejected and failed, each study's pictures and numbers, and
/healthz and /metrics for monitoring. Read-only on paths.state and paths.output.
Any web.host other than 127.0.0.1/localhost needs web.token or web.user + web.password_hash.

examples:
  spectssp serve --config /etc/spectssp/site.yaml
  spectssp serve --hash-password        # prints a web.password_hash for the password you type
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("serve", help="serve the status page (without the daemon)", description=HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arg(p)
    p.add_argument("--host", default=None, help="address to listen on (default: web.host)")
    p.add_argument("--port", type=int, default=None, help="port (default: web.port; 0: any free port)")
    p.add_argument("--hash-password", action="store_true",
                   help="read a password (twice, or once from a pipe) and print its web.password_hash")
    return p
