"""The daemon behind ``spectssp watch``: watch folder, job ledger, worker processes, delivery.

Reliability rules (DESIGN.md): nothing lost, exactly once, survives kill -9, SIGTERM finishes
running jobs, bad input is quarantined with a reason and the daemon goes on. See
``docs/daemon.md`` for the states and where files go.
"""
from __future__ import annotations

import logging

from processor.daemon.assembly import Assembler, Header, HeaderError, Ready, read_header
from processor.daemon.events import EventSource, ManualSource, WatchdogSource
from processor.daemon.ledger import (ACTIVE, DONE, DUPLICATE, FAILED, QUEUED, RECEIVED, REJECTED, RUNNING, JobState,
                                     STATES, TERMINAL, Job, Ledger, content_hash)
from processor.daemon.service import AlreadyRunning, Daemon
from processor.daemon.workers import PIPELINE_FACTORY, WorkerPool, default_workers

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["ACTIVE", "AlreadyRunning", "Assembler", "DONE", "DUPLICATE", "Daemon", "EventSource", "FAILED", "Header",
           "HeaderError", "Job", "JobState", "Ledger", "ManualSource", "PIPELINE_FACTORY", "QUEUED", "RECEIVED", "REJECTED", "RUNNING",
           "Ready", "STATES", "TERMINAL", "WatchdogSource", "WorkerPool", "content_hash", "default_workers", "read_header"]
