"""Arguments of ``spectssp phantom`` (the command itself: ``processor/cli/phantom.py``)."""
from __future__ import annotations

import argparse
from pathlib import Path

LABELS = ("NC", "AD", "DLB")
TRACERS = ("IMP", "ECD")   # processor.phantom.TRACERS
NORMAL_PATTERNS = ("phantom", "published")   # processor.phantom.NORMAL_PATTERNS
# The worlds' variants, written here so that building the parser imports no simulation code
# (tests/processor/cli/test_phantom_parser.py checks they match processor.phantom/worldb).
VARIANTS = ("typical", "asymmetric", "mild", "partial")
VARIANTS_AD = ("early",)   # world A AD, made only when asked for
VARIANTS_DLB = ("occipital_spared_v1", "no_cingulate_island")   # world A DLB, made only when asked for
VARIANTS_B = {"AD": ("typical", "asymmetric", "early", "temporal"),
              "DLB": ("occipital", "occipital_spared_v1", "parietal", "no_cingulate_island")}


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
    variants = sorted(set(VARIANTS + VARIANTS_AD + VARIANTS_DLB).union(*VARIANTS_B.values()))
    p.add_argument("--variant", choices=variants, default=None,
                   help="disease variant (default: drawn per study); world A: " + ", ".join(VARIANTS)
                        + " (drawn), and only when asked for: AD " + ", ".join(VARIANTS_AD) + " (posterior "
                        "cingulate and precuneus only), DLB " + ", ".join(VARIANTS_DLB)
                        + "; world B AD: " + ", ".join(VARIANTS_B["AD"]) + "; world B DLB: "
                        + ", ".join(VARIANTS_B["DLB"]))
    p.add_argument("--matrix", type=int, choices=(64, 128), default=None,
                   help="scanner matrix (default: drawn per study)")
    p.add_argument("--tracer", choices=TRACERS, default="IMP",
                   help="world A: 123I-IMP (default) or 99mTc-ECD, with ECD's regional differences "
                        "from IMP (docs/tracers.md); written in the DICOM header")
    p.add_argument("--normal-pattern", choices=NORMAL_PATTERNS, default="phantom",
                   help="world A: the normal perfusion of the bundled model (phantom, default) or one "
                        "moved towards published normal values (published: higher visual and "
                        "posteromedial cortex, lower medial temporal lobe; docs/phantom-calibration.md)")
    p.add_argument("--noise-free", action="store_true",
                   help="expected counts without Poisson noise (for tests)")
    return p
