"""What a Dask worker runs for one series: the pipeline, built once per worker process.

Tasks name their processing function by a string (``"module:function"``, as the daemon's
workers do), so a test can run a function that kills its worker while production runs
:func:`pipeline_factory`. The function is built on the first task a worker process gets and
kept for the next ones (loading the atlas, database and model costs seconds, a task less).
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, Callable

from processor.config import Section, with_threads
from processor.pipeline import single_pipeline
from spectssp.resources import plan, this_machine

ProcessFn = Callable[[list[Path], Path], list[dict[str, Any]]]
PIPELINE_FACTORY = "processor.batch.task:pipeline_factory"

_built: dict[tuple[str, str], ProcessFn] = {}   # per worker process: (factory, the config as JSON) -> function


def pipeline_factory(cfg: Section) -> ProcessFn:
    """The production function: one :class:`Pipeline`, its ``process_paths`` per series."""
    return single_pipeline(cfg, "batch").process_paths


def worker_config(cfg: Section) -> Section:
    """``cfg`` with this worker's threads: as given, or (0) the shared rule's share of this
    machine when the cluster was started elsewhere (``dask worker`` on another node)."""
    if cfg.registration.threads:
        return cfg
    return with_threads(cfg, plan(this_machine()).threads)


def process_series(factory: str, cfg: Section, files: list[str], out_root: str) -> list[dict[str, Any]]:
    """One series into its result folder under ``out_root``; its result.json form(s)."""
    key = (factory, json.dumps(cfg, sort_keys=True, default=str))
    fn = _built.get(key)
    if fn is None:
        module, _, name = factory.partition(":")
        fn = _built[key] = getattr(importlib.import_module(module), name)(worker_config(cfg))
    return fn([Path(f) for f in files], Path(out_root))
