"""``spectssp demo``: the whole job on bundled defaults and fresh phantom studies."""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = """\
Make NC, AD and DLB phantom studies (seeds never used for the bundled normal database or
model), then process them with the bundled normal database and model, and print what came
out. Everything lands in --out: phantoms/ (DICOM and truth) and results/.
Digital phantoms only: no real patient data.
"""
DEMO_SEED = 9000


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("demo", help="make phantom studies and process them end to end", description=HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("demo-out"), metavar="DIR")
    p.add_argument("--config", type=Path, default=None, metavar="FILE")
    return p


def run(args: argparse.Namespace) -> int:
    from processor.cli.process import summary_line
    from processor.config import load_config
    from processor.phantom import SubjectOptions, make_study, write_study
    from processor.pipeline import Pipeline

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
    pipeline = Pipeline(cfg)
    rc = 0
    for label, folder in studies:
        results = pipeline.process_paths([folder], args.out / "results")
        for r in results:
            print(f"truth {label:<3} -> {summary_line(r)}")
            rc |= r["status"] != "ok"
    print(f"results in {args.out / 'results'} (open ssp_decrease.png in each folder)")
    return int(rc)
