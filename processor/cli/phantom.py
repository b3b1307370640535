"""``spectssp phantom``: write digital 123I-IMP brain SPECT studies as vendor-like NM DICOM.

Each study goes into ``OUT/<label>_<seed>_<n>/`` (DICOM only, so intake finds nothing else
there) with its truth sidecar ``OUT/<label>_<seed>_<n>.truth.json`` beside the folder.
"""
from __future__ import annotations

import argparse
import logging

import numpy as np
from tqdm import tqdm

from processor.phantom import ScannerOptions, SubjectOptions, make_study, write_study
from spectssp.errors import ConfigError, ErrorCode, SpectSSPError

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
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
