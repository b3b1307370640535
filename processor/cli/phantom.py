"""``spectssp phantom``: write digital 123I-IMP brain SPECT studies as vendor-like NM DICOM.

Each study goes into ``OUT/<label>_<seed>_<n>/`` (DICOM only, so intake finds nothing else
there) with its truth sidecar ``OUT/<label>_<seed>_<n>.truth.json`` beside the folder.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)

LABELS = ("NC", "AD", "DLB")
VARIANTS = ("typical", "asymmetric", "mild", "partial")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "phantom", help="write digital IMP brain SPECT phantom studies (DICOM + truth)",
        description="Simulate 123I-IMP brain perfusion SPECT studies (NC, AD or DLB pattern) "
                    "with subject variability, head pose, SPECT resolution and Poisson noise, "
                    "and write them as NM DICOM. Same seed, same bytes. Studies with the same "
                    "seed and index but different labels are independent subjects.")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--label", choices=LABELS, required=True, help="perfusion pattern")
    p.add_argument("--count", type=int, default=1, help="number of studies (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--start", type=int, default=0, help="index of the first study (default 0)")
    p.add_argument("--layout", choices=("multiframe", "slices", "mixed"), default="multiframe",
                   help="one multi-frame file, one file per slice, or either by chance "
                        "(default multiframe)")
    p.add_argument("--severity", type=float, nargs=2, metavar=("MIN", "MAX"), default=(0.10, 0.35),
                   help="fractional count reduction of the disease pattern (default 0.10 0.35)")
    p.add_argument("--variant", choices=VARIANTS, default=None,
                   help="disease variant (default: drawn per study)")
    p.add_argument("--matrix", type=int, choices=(64, 128), default=None,
                   help="scanner matrix (default: drawn per study)")
    p.add_argument("--noise-free", action="store_true",
                   help="expected counts without Poisson noise (for tests)")
    return p


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from spectssp.errors import ConfigError, ErrorCode, SpectSSPError
    from processor.phantom import ScannerOptions, SubjectOptions, make_study, write_study

    if args.count < 1 or args.seed < 0 or args.start < 0:
        raise ConfigError("--count must be at least 1 and --seed, --start at least 0.")
    lo, hi = args.severity
    if not 0 <= lo <= hi < 1:
        raise ConfigError(f"--severity needs 0 <= MIN <= MAX < 1, got {lo} {hi}.")
    subject = SubjectOptions(severity=(lo, hi), variant=args.variant)
    scanner = ScannerOptions(matrix=args.matrix, noise_free=args.noise_free)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpectSSPError(ErrorCode.OUTPUT_WRITE_FAILED, f"cannot create {args.out}: {exc.strerror}.") from exc
    indices = range(args.start, args.start + args.count)
    for n in tqdm(indices, desc=f"phantom {args.label}", unit="study", disable=args.count == 1):
        layout = args.layout
        if layout == "mixed":
            # Drawn from (seed, index) so a study's layout does not depend on --start or --count.
            layout = ("multiframe", "slices")[int(np.random.default_rng([args.seed, n, 7919]).integers(2))]
        study = make_study(args.label, args.seed, n, subject=subject, scanner=scanner)
        try:
            paths = write_study(study, args.out / study.name, layout)
        except OSError as exc:
            raise SpectSSPError(ErrorCode.OUTPUT_WRITE_FAILED, f"cannot write {study.name}: {exc.strerror}.") from exc
        t = study.truth
        log.debug("%s: %s %s severity %.2f, matrix %d x %.2f mm, %d file(s)", study.name, t["label"],
                 t["variant"], t["severity"], t["scanner"]["matrix"], t["scanner"]["voxel_mm"], len(paths))
    print(f"wrote {args.count} {args.label} phantom stud{'y' if args.count == 1 else 'ies'} to {args.out}")
    return 0
