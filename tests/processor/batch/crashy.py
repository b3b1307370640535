"""Processing functions for the batch tests that end their Dask worker process on purpose.

Dask workers import them by name (``BatchOptions.factory``), as the daemon's tests do with
their fakes. They wrap the real pipeline, so the series that survive are processed for real.
"""
from __future__ import annotations

import os
from pathlib import Path

import processor.pipeline as pipeline_module
from processor.pipeline import Pipeline

MARKER = "SPECTSSP_TEST_KILL_MARKER"   # a file path; the first worker to publish creates it and dies


def kill_once_before_publish(cfg):
    """The first series to reach publishing kills its worker with its staging folder complete:
    the worst moment for a kill. Later attempts (the marker exists) publish as usual."""
    publish = pipeline_module.publish_dir

    def publish_or_die(staging: Path, final: Path) -> None:
        try:
            os.close(os.open(os.environ[MARKER], os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return publish(staging, final)
        os._exit(1)

    pipeline_module.publish_dir = publish_or_die   # this worker process only
    return Pipeline(cfg).process_paths


def kill_on_poison(cfg):
    """Every attempt at a file named poison* ends its worker; other series run the pipeline
    (built at the first of them: a worker that only meets the poison dies without loading it)."""
    built: list = []

    def run(paths: list[Path], out_root: Path):
        if any(Path(p).name.startswith("poison") for p in paths):
            os._exit(1)
        if not built:
            built.append(Pipeline(cfg).process_paths)
        return built[0](paths, out_root)

    return run
