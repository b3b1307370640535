"""Daemon benchmark: N phantom studies dropped at once, concurrency 1 and 2.

    python -m processor.bench_daemon --studies 50 --out bench-out [--config site.yaml]

Runs the real daemon (worker processes, ledger, the configured pipeline) in-process on a fresh
state per concurrency, drops every study into the watch folder in one go, and reports studies
per minute (first drop to last job ended) and the peak RSS of each worker as a Markdown table.
Also checks exactly-once (one done job and one result folder per study). Not a timed test.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
from pathlib import Path

from processor.config import load_config
from processor.daemon import Daemon, ManualSource
from processor.daemon.ledger import ACTIVE, DONE
from processor.phantom import write_benchmark_studies

log = logging.getLogger(__name__)


def run_once(cfg_path: Path | None, studies: list[Path], root: Path, workers: int, quiet_s: float) -> dict:
    """One daemon run on a fresh state; returns throughput and memory figures."""
    if root.exists():
        shutil.rmtree(root)
    cfg = load_config(cfg_path)
    cfg.paths.update(incoming=str(root / "incoming"), output=str(root / "output"), state=str(root / "state"))
    cfg.intake["quiet_period_s"] = quiet_s
    cfg["destinations"] = []
    daemon = Daemon(cfg, workers=workers, events=ManualSource())
    daemon.start()
    try:
        staging = root / "drop"
        staging.mkdir()
        for s in studies:   # copy beside the watch folder, then drop everything with renames
            shutil.copytree(s, staging / s.name)
        t0 = time.monotonic()
        for s in studies:
            os.replace(staging / s.name, daemon.incoming / s.name)
        daemon.assembler.scan()
        while True:
            daemon.step()
            counts = daemon.ledger.counts()
            if sum(counts.values()) >= len(studies) and not any(counts[s] for s in ACTIVE):
                break
        elapsed = time.monotonic() - t0
        jobs = daemon.ledger.jobs()
    finally:
        daemon.close()
    done = sum(j.state == DONE for j in jobs)
    results = len([p for p in (root / "output").iterdir() if not p.name.startswith(".")])
    rss = sorted(daemon.peak_rss_mb.values(), reverse=True)
    return {"workers": workers, "studies": len(studies), "done": done, "results": results,
            "jobs": len(jobs), "elapsed_s": elapsed, "per_min": len(studies) / elapsed * 60,
            "rss_mb": rss, "exactly_once": done == len(jobs) == results == len(studies)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m processor.bench_daemon", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--studies", type=int, default=50)
    p.add_argument("--out", type=Path, required=True, help="work folder (replaced)")
    p.add_argument("--config", type=Path, default=None, help="site config (default: the bundled defaults)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="concurrency levels (default 1 2)")
    p.add_argument("--quiet-period", type=float, default=2.0, help="seconds (default 2)")
    p.add_argument("--seed", type=int, default=2024)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    src = args.out / "studies"
    if src.exists():
        shutil.rmtree(src)
    t = time.monotonic()
    studies = write_benchmark_studies(src, args.studies, args.seed)
    print(f"wrote {len(studies)} phantom studies in {time.monotonic() - t:.0f} s", file=sys.stderr)
    rows = []
    for n in args.workers:
        r = run_once(args.config, studies, args.out / f"run-{n}", n, args.quiet_period)
        rows.append(r)
        print(f"workers {n}: {r['done']}/{r['studies']} done in {r['elapsed_s']:.0f} s", file=sys.stderr)
    print(f"\nDaemon benchmark: {args.studies} phantom studies dropped at once "
          f"({os.cpu_count()} CPU cores, quiet period {args.quiet_period:g} s)\n")
    print("| workers | done | wall time (s) | studies/min | peak RSS per worker (MB) | exactly once |")
    print("|---:|---:|---:|---:|---|---|")
    for r in rows:
        rss = ", ".join(f"{m:.0f}" for m in r["rss_mb"]) or "-"
        print(f"| {r['workers']} | {r['done']}/{r['studies']} | {r['elapsed_s']:.0f} | {r['per_min']:.1f} | {rss} | "
              f"{'yes' if r['exactly_once'] else 'NO'} |")
    return 0 if all(r["exactly_once"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
