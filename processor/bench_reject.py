"""Cold-start rejection benchmark: how long a fresh ``spectssp process`` takes to reject a
study no configured database covers (issue 12: under 2 s).

    python -m processor.bench_reject --runs 5 --out bench-out

Writes one Mediso-like Tc-99m series (a phantom volume under the header issue 12 found: the
tracer stated only by the radionuclide code C-163A8 "^99m^Technetium" and a 126-154 keV energy
window), then times ``--runs`` fresh interpreters running ``spectssp process`` on it with the
default configuration (the bundled 123I-IMP database), each checked to end in
``tracer_not_covered``. In the same loop it times a bare ``python -c "import pydicom"`` (the
least any DICOM reader pays), so the ratio of the two medians means something on a machine
2-3x faster or slower than the one the numbers in docs/tracers.md come from.

Not a timed test: the numbers go in docs/tracers.md.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pydicom

from processor.phantom import ScannerOptions, make_study
from processor.phantom.dicom_writer import as_mediso_like, write_dicom

REPO = Path(__file__).resolve().parents[1]


def write_mediso_like(folder: Path) -> Path:
    """One multi-frame phantom series under the Mediso InterViewXP Tc-99m header of issue 12."""
    study = make_study("NC", 1212, 0, scanner=ScannerOptions(matrix=128))
    (path,) = write_dicom(study.image, study.truth, folder, "multiframe")
    ds = as_mediso_like(pydicom.dcmread(path))
    ds.save_as(path, enforce_file_format=True)
    return path


def timed(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
    return time.perf_counter() - t, proc


def reject_once(series: Path, out: Path, log_dir: Path) -> float:
    """Wall time of one fresh ``spectssp process`` of ``series``; it must be a tracer_not_covered."""
    s, proc = timed([sys.executable, "-m", "processor.cli.main", "process", str(series), "--out", str(out),
                     "--json", "-q", "--log-dir", str(log_dir)])
    try:
        (r,) = json.loads(proc.stdout)
    except ValueError:
        raise SystemExit(f"spectssp process printed no result (exit {proc.returncode}): {proc.stderr[-2000:]}")
    error = r.get("error") or {}
    if proc.returncode != 1 or error.get("code") != "tracer_not_covered" or "Tc-99m" not in str(error.get("message")):
        what = (f"status {r.get('status')!r}: the study was not rejected" if not error
                else f"error {error.get('code')!r}: {error.get('message')}")
        raise SystemExit(f"expected a tracer_not_covered rejection naming Tc-99m, got exit {proc.returncode}, {what}")
    return s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m processor.bench_reject", description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="fresh interpreters of each kind (default 5)")
    ap.add_argument("--out", type=Path, default=Path("bench-out"))
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error(f"--runs must be at least 1 (a median needs one run), got {args.runs}")
    root = args.out / "reject"
    series = write_mediso_like(root / "in")
    baseline, reject = [], []
    for i in range(args.runs):   # interleaved, so a busy moment of the machine hits both
        s, proc = timed([sys.executable, "-c", "import pydicom"])
        if proc.returncode != 0:
            raise SystemExit(f"'import pydicom' failed: {proc.stderr[-2000:]}")
        baseline.append(s)
        reject.append(reject_once(series.parent, root / f"out-{i}", root / "logs"))
    b, r = statistics.median(baseline), statistics.median(reject)
    print(f"Cold-start rejection of a Mediso-like Tc-99m series against the bundled 123I-IMP database "
          f"({args.runs} fresh interpreters each)\n")
    print("| command | median s | min s | max s |\n|---|---|---|---|")
    print(f"| `spectssp process` (rejected: tracer_not_covered) | {r:.2f} | {min(reject):.2f} | {max(reject):.2f} |")
    print(f"| `python -c \"import pydicom\"` (baseline) | {b:.2f} | {min(baseline):.2f} | {max(baseline):.2f} |")
    print(f"\nratio (median rejection / median baseline): {r / b:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
