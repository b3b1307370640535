"""The daemon's production processing function, in a module of its own.

Worker processes import it by name (``workers.PIPELINE_FACTORY``), so the daemon process and
``spectssp status``, which import ``processor.daemon``, never load the pipeline and what it
imports (0.8 s, before the model).
"""
from __future__ import annotations

from typing import Any

from processor.daemon.workers import ProcessFn, report_stage
from processor.pipeline import make_pipeline


def pipeline_factory(cfg: Any) -> ProcessFn:
    """One :class:`Pipeline` (or one per configured database) per worker process; its
    ``process_paths`` runs each job, telling the daemon each stage as it begins."""
    pipeline = make_pipeline(cfg)
    pipeline.on_stage = report_stage
    return pipeline.process_paths
