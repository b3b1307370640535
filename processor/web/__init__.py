"""The status page for technologists: what is waiting, running, done, rejected and failed,
and each study's pictures and numbers (docs/web.md). Read-only on the daemon's state."""
from processor.web.app import create_app
from processor.web.auth import hash_password
from processor.web.server import WebServer

__all__ = ["WebServer", "create_app", "hash_password"]
