"""Batch benchmark: the same N phantom studies through ``spectssp batch`` in several shapes.

    python -m processor.bench_batch --studies 20 --out bench-out [--config site.yaml]

Each shape (workers x threads per series, default 1x1 1x2 2x1) processes every study on a fresh
LocalCluster (``--force``: nothing skipped). Wall time runs from the call to the last result,
cluster start and each worker's pipeline load included, as a researcher waits for it.
Parallel efficiency is the speed-up over 1x1 divided by the cores the shape uses. The Dask
overhead per task is measured apart with no-op tasks: many submitted at once (throughput) and
one after another (round trip). Prints Markdown tables; not a timed test.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

from distributed import Client, LocalCluster

from processor.batch import BatchOptions, run_batch
from processor.config import load_config
from processor.phantom import write_benchmark_studies
from spectssp.resources import this_machine


def run_shape(cfg_path: Path | None, studies: list[Path], out: Path, workers: int, threads: int) -> dict:
    if out.exists():
        shutil.rmtree(out)
    load = os.getloadavg()[0]   # other work on the machine skews a shape: the table says how much
    t0 = time.monotonic()
    report = run_batch(BatchOptions(studies, out, load_config(cfg_path), workers=workers, threads_per_worker=threads,
                                    force=True, progress=False), echo=lambda s: print(s, file=sys.stderr))
    wall = time.monotonic() - t0
    totals = [json.loads(p.read_text())["timings_s"]["total"] for p in out.glob("[!.]*/result.json")]
    return {"workers": workers, "threads": threads, "cores": workers * threads, "ok": report.statuses.get("ok", 0),
            "n": len(studies), "wall_s": wall, "per_min": len(studies) / wall * 60,
            "task_s": sum(totals) / max(len(totals), 1), "load": load}


def noop(i: int) -> int:
    return i


def scheduler_overhead(workers: int, n: int) -> tuple[float, float]:
    """(ms per no-op task, n submitted at once; ms per round trip, one after another)."""
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                      scheduler_port=0) as cluster, Client(cluster) as client:
        client.gather(client.map(noop, range(10), pure=False))   # warm up
        t = time.perf_counter()
        client.gather(client.map(noop, range(n), pure=False))
        bulk = (time.perf_counter() - t) / n * 1000
        t = time.perf_counter()
        for i in range(50):
            client.submit(noop, i, pure=False).result()
        trip = (time.perf_counter() - t) / 50 * 1000
    return bulk, trip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m processor.bench_batch", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--studies", type=int, default=20)
    p.add_argument("--out", type=Path, required=True, help="work folder (its batch-* folders are replaced)")
    p.add_argument("--config", type=Path, default=None, help="site config (default: the bundled defaults)")
    p.add_argument("--shapes", nargs="+", default=["1x1", "1x2", "2x1"], help="workers x threads (default 1x1 1x2 2x1)")
    p.add_argument("--noop-tasks", type=int, default=2000)
    p.add_argument("--seed", type=int, default=2025)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    shapes = [tuple(int(v) for v in s.lower().split("x")) for s in args.shapes]
    src = args.out / "batch-studies"
    if src.exists():
        shutil.rmtree(src)
    t = time.monotonic()
    studies = write_benchmark_studies(src, args.studies, args.seed)
    print(f"wrote {len(studies)} phantom studies in {time.monotonic() - t:.0f} s", file=sys.stderr)
    rows = [run_shape(args.config, studies, args.out / f"batch-{w}x{th}", w, th) for w, th in shapes]
    base = next((r for r in rows if r["cores"] == 1), None)
    bulk, trip = scheduler_overhead(2, args.noop_tasks)
    m = this_machine()
    print(f"\nBatch benchmark: {args.studies} phantom studies per shape ({m.cores} cores, {m.memory_gb:.0f} GB)\n")
    print("| workers x threads | ok | wall time (s) | studies/min | mean time in task (s) | parallel efficiency "
          "| load average at start |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        eff = f"{r['per_min'] / base['per_min'] / r['cores']:.2f}" if base else "-"
        print(f"| {r['workers']} x {r['threads']} | {r['ok']}/{r['n']} | {r['wall_s']:.0f} | {r['per_min']:.2f} | "
              f"{r['task_s']:.1f} | {eff} | {r['load']:.1f} |")
    print(f"\nDask overhead per task (LocalCluster, 2 worker processes, no-op tasks): {bulk:.2f} ms each when "
          f"{args.noop_tasks} are submitted at once; {trip:.1f} ms round trip one after another.")
    return 0 if all(r["ok"] == r["n"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
