"""``spectssp phantom``: write digital 123I-IMP brain SPECT studies as vendor-like NM DICOM.

Each study goes into ``OUT/<label>_<seed>_<n>/`` (DICOM only, so intake finds nothing else
there) with its truth sidecar ``OUT/<label>_<seed>_<n>.truth.json`` beside the folder.
``--world B`` writes world B instead (:mod:`processor.worldb`, never used for training):
``OUT/<label>_B<seed>_<n>/`` and its sidecar.
"""
from __future__ import annotations

import argparse
import logging

import numpy as np
from tqdm import tqdm

from processor import phantom as world_a
from processor import worldb as world_b
from processor.cli.common import show_progress
from processor.cli.parsers.phantom import VARIANTS_B
from spectssp.errors import ConfigError, ErrorCode, SpectSSPError

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    if args.count < 1 or args.seed < 0 or args.start < 0:
        raise ConfigError("--count must be at least 1 and --seed, --start at least 0.")
    if args.severity is not None and not 0 <= args.severity[0] <= args.severity[1] < 1:
        raise ConfigError(f"--severity needs 0 <= MIN <= MAX < 1, got {args.severity[0]} {args.severity[1]}.")
    if args.world == "B":
        if args.tracer != "IMP":
            raise ConfigError("--tracer: world B is 123I-IMP only.")
        if args.normal_pattern != "phantom":
            raise ConfigError("--normal-pattern: world B has its own normal perfusion; the option is for world A.")
        return _run_world_b(args)
    allowed_a = world_a.variants_for(args.label)
    if args.variant is not None and args.variant not in allowed_a:
        raise ConfigError(f"--variant {args.variant} is not a world A {args.label} variant; allowed: "
                          f"{', '.join(allowed_a)}.")
    return _run_world_a(args)


def _bar(indices: range, desc: str, args: argparse.Namespace) -> tqdm:
    """The studies to write, with a progress bar when there is more than one and someone watches."""
    return tqdm(indices, desc=desc, unit="study", disable=args.count == 1 or not show_progress(args))


def _run_world_a(args: argparse.Namespace) -> int:
    lo, hi = args.severity if args.severity is not None else (0.10, 0.35)
    subject = world_a.SubjectOptions(severity=(lo, hi), variant=args.variant, tracer=args.tracer,
                                     normal_pattern=args.normal_pattern)
    scanner = world_a.ScannerOptions(matrix=args.matrix, noise_free=args.noise_free)
    indices = _output_indices(args)
    for n in _bar(indices, f"phantom {args.label}", args):
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
    tracer = ("" if args.tracer == "IMP" else f" {args.tracer}") + \
        ("" if args.normal_pattern == "phantom" else f" ({args.normal_pattern} normal pattern)")
    print(f"wrote {args.count} {args.label}{tracer} phantom stud{'y' if args.count == 1 else 'ies'} to {args.out}")
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
    for n in _bar(indices, f"world B {args.label}", args):
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
