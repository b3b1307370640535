"""Registration QC r against the bundled and a site template: normals and gross failures.

Builds a site template from ``--normals`` phantom normals (``--rounds`` rounds, as
``spectssp normaldb build`` does), then registers held-out normals and the gross failures of
``processor.gross_failures`` (made from a held-out normal) to the bundled template and to the
site template, and prints the QC r of each as a Markdown table (docs/registration.md).

    PYTHONPATH=. .venv/bin/python scripts/measure_registration_qc.py --world a --normals 5
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from atlas import load_atlas
from processor.config import defaults
from processor.gross_failures import ALL
from processor.registration import register
from processor.registration_qc import kept_member_qc, outliers
from processor.site_template import build_template


def _maker(world: str):
    if world == "a":
        from processor.phantom import make_study
    else:
        from processor.worldb import make_study
    return lambda seed, index: make_study("NC", seed, index).image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--world", choices=("a", "b"), default="a", help="phantom world of the normals")
    ap.add_argument("--normals", type=int, default=5, help="members the site template is made from")
    ap.add_argument("--held-out", type=int, default=2, help="held-out normals (the first also makes the failures)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--symmetric", action="store_true")
    ap.add_argument("--seed", type=int, default=4200, help="members: seed, held-out normals: seed + 1")
    args = ap.parse_args()
    t0 = time.time()
    cfg = defaults().registration
    kw = dict(stages=cfg.stages, threads=cfg.threads, seed=cfg.seed, profile=cfg.profile)
    atlas = load_atlas()
    make = _maker(args.world)
    members = [make(args.seed, i) for i in range(args.normals)]
    template = build_template(members, atlas, args.rounds, symmetric=args.symmetric, floor=cfg.qc_floor,
                              register_kw=kw, progress=False)
    member_qc = np.array([register(m, atlas, template=template, **kw).qc for m in members])
    # the members a database built from them keeps (spectssp normaldb build leaves out the QC outliers)
    kept = kept_member_qc(member_qc, False, cfg.qc_floor)
    left_out = member_qc[outliers(member_qc, cfg.qc_floor)]
    held = [make(args.seed + 1, i) for i in range(args.held_out)]
    cases = [(f"held-out normal {i}", h) for i, h in enumerate(held)]
    cases += [(name, fn(held[0])) for name, fn in ALL.items()]
    print(f"world {args.world.upper()}, {args.normals} members, {args.rounds} rounds"
          f"{', symmetric' if args.symmetric else ''}, profile {cfg.profile}, stages {'+'.join(cfg.stages)}")
    print(f"kept members' QC r against the site template: {kept.min():.3f}-{kept.max():.3f} "
          f"(mean {kept.mean():.3f}, {len(kept)} of {len(member_qc)}"
          + (f"; left out as QC outliers: {', '.join(f'r={v:.3f}' for v in left_out)})" if left_out.size else ")"))
    print("\n| study | r, bundled template | r, site template |\n|---|---|---|")
    for name, image in cases:
        r_b = register(image, atlas, **kw).qc
        r_s = register(image, atlas, template=template, **kw).qc
        print(f"| {name} | {r_b:.3f} | {r_s:.3f} |", flush=True)
    print(f"\n{time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
