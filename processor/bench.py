"""``make bench``: phantom studies through ``process``; per-stage times, the ratio of total to
registration time and peak RSS, as a Markdown table. A benchmark, not a test: it prints
figures for the performance budget in DESIGN.md (15 s per study, ratio < 1.3, < 2.5 GB).

    python -m processor.bench --studies 5 --out bench-out
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

STAGES = ("read", "register", "ssp", "classify", "write", "total")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--studies", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path("bench-out"))
    ap.add_argument("--config", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=7000)
    args = ap.parse_args(argv)

    from processor.config import load_config
    from processor.phantom import make_study, write_study
    from processor.pipeline import Pipeline
    from atlas.load import load_atlas
    from spectssp.core.ssp import extract_ssp, reference_means

    cfg = load_config(args.config)
    labels = ["NC", "AD", "DLB"]
    folders = []
    for i in range(args.studies):
        study = make_study(labels[i % 3], args.seed, i)
        folder = args.out / "phantoms" / study.name
        write_study(study, folder, "multiframe" if i % 2 == 0 else "slices")
        folders.append(folder)
    t0 = time.perf_counter()
    pipeline = Pipeline(cfg)
    startup = time.perf_counter() - t0
    rows = []
    for folder in folders:
        t = time.perf_counter()
        (result,) = pipeline.process_paths([folder], args.out / "results")
        wall = time.perf_counter() - t
        if result["status"] != "ok":
            print(f"{folder.name}: {result['status']} {result['error']}", file=sys.stderr)
            continue
        rows.append({**result["timings_s"], "wall": wall})
    if not rows:
        print("no study processed", file=sys.stderr)
        return 1
    # The numeric core alone (SSP extraction + Z for all four references), many repeats, and
    # the resolution harmonisation before it (estimate + smoothing) on its own.
    atlas = load_atlas()
    an = pipeline.analyser
    vol = atlas.template * 1000
    reps = 20
    t = time.perf_counter()
    for _ in range(reps):
        harmonised, _ = an.harmonise(vol)
    harmonise_s = (time.perf_counter() - t) / reps
    t = time.perf_counter()
    for _ in range(reps * 2):
        an.from_raw(extract_ssp(harmonised, an.samples), reference_means(harmonised, an.ref_indices))
    core_s = (time.perf_counter() - t) / (reps * 2)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    print(f"\n### spectssp bench: {len(rows)} phantom studies, pipeline start-up {startup:.1f} s\n")
    print("| stage | mean s | min s | max s |")
    print("|---|---|---|---|")
    for k in STAGES + ("wall",):
        vals = [r[k] for r in rows]
        print(f"| {k} | {statistics.mean(vals):.3f} | {min(vals):.3f} | {max(vals):.3f} |")
    ratio = statistics.mean(r["total"] for r in rows) / statistics.mean(r["register"] for r in rows)
    print("\n| figure | value | target |\n|---|---|---|")
    print(f"| per-study total (mean) | {statistics.mean(r['total'] for r in rows):.2f} s | < 15 s |")
    print(f"| total / registration | {ratio:.3f} | < 1.3 |")
    print(f"| SSP + Z, 4 references (core) | {core_s * 1000:.1f} ms | < 200 ms |")
    print(f"| resolution harmonisation (estimate + smooth) | {harmonise_s * 1000:.1f} ms | - |")
    print(f"| peak RSS | {peak_gb:.2f} GB | < 2.5 GB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
