"""``spectssp phantom``: write digital 123I-IMP brain SPECT studies as vendor-like NM DICOM.

Each study goes into ``OUT/<label>_<seed>_<n>/`` (DICOM only, so intake finds nothing else
there) with its truth sidecar ``OUT/<label>_<seed>_<n>.truth.json`` beside the folder.
``--world B`` writes world B instead (:mod:`processor.worldb`, never used for training):
``OUT/<label>_B<seed>_<n>/`` and its sidecar.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from processor import phantom as world_a
from processor import worldb as world_b
from spectssp.errors import ConfigError, ErrorCode, SpectSSPError

log = logging.getLogger(__name__)

LABELS = ("NC", "AD", "DLB")
VARIANTS = world_a.VARIANTS
VARIANTS_B = {label: v for label, v in world_b.VARIANTS.items() if v}   # world B's, per disease class


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "phantom", help="write digital IMP brain SPECT phantom studies (DICOM + truth)",
        description="Simulate 123I-IMP brain perfusion SPECT studies (NC, AD or DLB pattern) "
                    "with subject variability, head pose, SPECT resolution and Poisson noise, "
                    "and write them as NM DICOM. Same seed, same bytes. Studies with the same "
                    "seed and index but different labels are independent subjects.")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--world", choices=("A", "B"), default="A",
                   help="A: the phantom the bundled model was trained on (default); B: an independently "
                        "built world for testing only (docs/worldb.md)")
    p.add_argument("--label", choices=LABELS, required=True, help="perfusion pattern")
    p.add_argument("--count", type=int, default=1, help="number of studies (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--start", type=int, default=0, help="index of the first study (default 0)")
    p.add_argument("--layout", choices=("multiframe", "slices", "mixed"), default=None,
                   help="one multi-frame file, one file per slice, or either by chance "
                        "(default: multiframe in world A, drawn per study in world B)")
    p.add_argument("--severity", type=float, nargs=2, metavar=("MIN", "MAX"), default=None,
                   help="fractional count reduction of the disease pattern (default 0.10 0.35 in "
                        "world A, 0.12 0.32 in world B)")
    variants = sorted(set(VARIANTS).union(*VARIANTS_B.values()))
    p.add_argument("--variant", choices=variants, default=None,
                   help="disease variant (default: drawn per study); world A: " + ", ".join(VARIANTS)
                        + "; world B AD: " + ", ".join(VARIANTS_B["AD"]) + "; world B DLB: "
                        + ", ".join(VARIANTS_B["DLB"]))
    p.add_argument("--matrix", type=int, choices=(64, 128), default=None,
                   help="scanner matrix (default: drawn per study)")
    p.add_argument("--noise-free", action="store_true",
                   help="expected counts without Poisson noise (for tests)")
    return p


def run(args: argparse.Namespace) -> int:
    if args.count < 1 or args.seed < 0 or args.start < 0:
        raise ConfigError("--count must be at least 1 and --seed, --start at least 0.")
    if args.severity is not None and not 0 <= args.severity[0] <= args.severity[1] < 1:
        raise ConfigError(f"--severity needs 0 <= MIN <= MAX < 1, got {args.severity[0]} {args.severity[1]}.")
    if args.world == "B":
        return _run_world_b(args)
    if args.variant is not None and args.variant not in VARIANTS:
        raise ConfigError(f"--variant {args.variant} is not a world A variant ({', '.join(VARIANTS)}).")
    return _run_world_a(args)


def _run_world_a(args: argparse.Namespace) -> int:
    lo, hi = args.severity if args.severity is not None else (0.10, 0.35)
    subject = world_a.SubjectOptions(severity=(lo, hi), variant=args.variant)
    scanner = world_a.ScannerOptions(matrix=args.matrix, noise_free=args.noise_free)
    indices = _output_indices(args)
    for n in tqdm(indices, desc=f"phantom {args.label}", unit="study", disable=args.count == 1):
        layout = args.layout or "multiframe"
        if layout == "mixed":
            # Drawn from (seed, index) so a study's layout does not depend on --start or --count.
            layout = ("multiframe", "slices")[int(np.random.default_rng([args.seed, n, 7919]).integers(2))]
        study = world_a.make_study(args.label, args.seed, n, subject=subject, scanner=scanner)
        try:
            paths = world_a.write_study(study, args.out / study.name, layout)
        except OSError as exc:
            raise SpectSSPError(ErrorCode.OUTPUT_WRITE_FAILED, f"cannot write {study.name}: {exc.strerror}.") from exc
        t = study.truth
        log.debug("%s: %s %s severity %.2f, matrix %d x %.2f mm, %d file(s)", study.name, t["label"],
                 t["variant"], t["severity"], t["scanner"]["matrix"], t["scanner"]["voxel_mm"], len(paths))
    print(f"wrote {args.count} {args.label} phantom stud{'y' if args.count == 1 else 'ies'} to {args.out}")
    return 0


def _run_world_b(args: argparse.Namespace) -> int:
    if args.variant is not None and args.variant not in VARIANTS_B.get(args.label, ()):
        allowed = ", ".join(VARIANTS_B.get(args.label, ())) or "none (NC has no disease)"
        raise ConfigError(f"--variant {args.variant} is not a world B {args.label} variant; allowed: {allowed}.")
    disease = world_b.DiseaseOptions(variant=args.variant) if args.severity is None else \
        world_b.DiseaseOptions(variant=args.variant, severity=tuple(args.severity), early_severity=tuple(args.severity))
    camera = world_b.CameraOptions(matrix=args.matrix, noise_free=args.noise_free)
    layout = None if args.layout in (None, "mixed") else args.layout
    indices = _output_indices(args)
    for n in tqdm(indices, desc=f"world B {args.label}", unit="study", disable=args.count == 1):
        study = world_b.make_study(args.label, args.seed, n, camera=camera, disease=disease, layout=layout)
        try:
            world_b.write_study(study, args.out / study.name)
        except OSError as exc:
            raise SpectSSPError(ErrorCode.OUTPUT_WRITE_FAILED, f"cannot write {study.name}: {exc.strerror}.") from exc
    print(f"wrote {args.count} world B {args.label} phantom stud{'y' if args.count == 1 else 'ies'} to {args.out}")
    return 0


def _output_indices(args: argparse.Namespace) -> range:
    """Make --out (a coded error if it cannot be made) and return the study indices to write."""
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpectSSPError(ErrorCode.OUTPUT_WRITE_FAILED, f"cannot create {args.out}: {exc.strerror}.") from exc
    return range(args.start, args.start + args.count)
