"""Intake memory benchmark: the peak memory of reading a folder of many series.

    python -m processor.bench_intake --series 200 --out bench-out [--matrix 128]

Writes a folder of ``--series`` phantom series (a few simulated studies, each written several
times under new UIDs; one in ten as one file per slice, the others multi-frame), then, each in
a fresh subprocess, reads the folder two ways and reports the peak resident memory
(``ru_maxrss``) as a Markdown table:

- ``one at a time``: headers of every file first, then each series' pixels as it is reached
  and dropped after it (:func:`processor.intake.scan_series`, what the pipeline does);
- ``all at once``: every volume held together (:func:`processor.intake.load_series`, what the
  pipeline did before), for comparison.

Not a timed test: the numbers go in the issue's closing note.
"""
from __future__ import annotations

import argparse
import copy
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from atlas import load_atlas
from processor.phantom import ScannerOptions, make_study
from processor.phantom.dicom_writer import write_dicom

DISTINCT = 5   # simulated studies; the others are copies under new UIDs (reading cost is the same)


def write_folder(folder: Path, n: int, matrix: int = 128) -> int:
    """``n`` phantom series in ``folder`` (one sub-folder each); the number of files written."""
    atlas = load_atlas()
    studies = [make_study("NC", 9400, i, atlas=atlas, scanner=ScannerOptions(matrix=matrix))
               for i in range(min(DISTINCT, n))]
    files = 0
    for i in range(n):
        study = studies[i % len(studies)]
        truth = copy.deepcopy(study.truth)
        truth["dicom"]["uid_seed"] = f"spectssp-bench-intake/{i}"   # new study, series and SOP UIDs
        layout = "slices" if i % 10 == 9 else "multiframe"
        files += len(write_dicom(study.image, truth, folder / f"series_{i:03d}", layout))
    return files


def measure(folder: Path, mode: str) -> dict:
    """Read ``folder`` in this process (``mode``: ``one at a time`` or ``all at once``); peak RSS."""
    from processor.intake import load_series, scan_series   # after the baseline is taken
    base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    if mode == "all at once":
        series = load_series([folder])
        n, ok = len(series), sum(s.ok for s in series)
    else:
        n = ok = 0
        for s in scan_series([folder]):
            n, ok = n + 1, ok + s.ok
    return {"mode": mode, "series": n, "accepted": ok, "seconds": round(time.perf_counter() - t, 1),
            "baseline_mb": round(base_mb), "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=200)
    ap.add_argument("--matrix", type=int, default=128, choices=(64, 128))
    ap.add_argument("--out", type=Path, default=Path("bench-out"))
    ap.add_argument("--measure", choices=("one at a time", "all at once"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    folder = args.out / f"intake-{args.series}x{args.matrix}"
    if args.measure:   # the subprocess: one reading, its figures as JSON on stdout
        print(json.dumps(measure(folder, args.measure)))
        return 0
    if not folder.is_dir():
        t = time.perf_counter()
        files = write_folder(folder, args.series, args.matrix)
        print(f"wrote {args.series} series ({files} files, matrix {args.matrix}) to {folder} "
              f"in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    rows = []
    for mode in ("one at a time", "all at once"):
        cmd = [sys.executable, "-m", "processor.bench_intake", "--series", str(args.series), "--matrix",
               str(args.matrix), "--out", str(args.out), "--measure", mode]
        rows.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout))
    print(f"| intake of {args.series} series ({args.matrix}^2 matrix) | series | accepted | s | "
          "RSS after imports (MB) | peak RSS (MB) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['series']} | {r['accepted']} | {r['seconds']} | {r['baseline_mb']} | {r['peak_mb']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
