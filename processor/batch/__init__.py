"""``spectssp batch``: reprocess an archive on Dask distributed, one task per series.

The client reads headers only (:mod:`.discover`), skips series whose result is already there
for the same inputs, settings, normal database and model (:mod:`.resume`), and submits one
task per series to a Dask cluster (a ``LocalCluster`` sized by :mod:`spectssp.resources`, or a
running scheduler). Each task runs the pipeline's own ``process_paths`` on a worker
(:mod:`.task`), so a result folder is exactly what ``spectssp process`` writes, staged and
published by rename. Results land in ``summary.csv`` as they arrive (:mod:`.summary`).
"""
from processor.batch.discover import SeriesTask, find_series
from processor.batch.resume import RunKey, run_key
from processor.batch.run import BatchOptions, BatchReport, run_batch

__all__ = ["BatchOptions", "BatchReport", "RunKey", "SeriesTask", "find_series", "run_batch", "run_key"]
