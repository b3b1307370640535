"""``spectssp demo``: the whole job on bundled defaults and fresh phantom studies."""
from __future__ import annotations

import argparse

from processor.cli.process import summary_line
from processor.config import load_config
from processor.phantom import SubjectOptions, make_study, write_study
from processor.pipeline import single_pipeline

DEMO_SEED = 9000


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    phantoms = args.out / "phantoms"
    studies = []
    for i, label in enumerate(("NC", "AD", "DLB")):
        # typical patterns at a clear severity, so the demo shows what each looks like
        opts = None if label == "NC" else SubjectOptions(variant="typical", severity=(0.25, 0.30))
        study = make_study(label, DEMO_SEED + i, subject=opts)
        folder = phantoms / f"{label}_{DEMO_SEED + i}"
        write_study(study, folder, "multiframe" if i != 1 else "slices")
        studies.append((label, folder))
    print(f"phantoms written to {phantoms}")
    pipeline = single_pipeline(cfg, "demo")
    rc = 0
    for label, folder in studies:
        results = pipeline.process_paths([folder], args.out / "results")
        for r in results:
            print(f"truth {label:<3} -> {summary_line(r)}")
            rc |= r["status"] != "ok"
    print(f"results in {args.out / 'results'} (open ssp_decrease.png in each folder)")
    return int(rc)
