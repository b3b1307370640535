"""``spectssp process``: one-shot processing of files and folders."""
from __future__ import annotations

import argparse
import json

from processor.cli.common import existing_inputs, show_progress
from processor.config import load_config
from processor.pipeline import make_pipeline


def summary_line(r: dict) -> str:
    uid = r.get("series_instance_uid") or "-"
    if r["status"] == "ok":
        c = r.get("classification")
        label = (f"{c['label']} (" + ", ".join(f"{k} {v:.2f}" for k, v in c["probabilities"].items()) + ")"
                 if c else "statistics only")
        idx = r.get("indices", {})
        return (f"ok        {uid}  {label}  QC r={r['registration']['qc']:.3f}  severity={idx.get('severity')} "
                f"extent={idx.get('extent')}%  {r['timings_s']['total']:.1f}s")
    return f"{r['status']:<9} {uid}  [{r['error']['code']}] {r['error']['message']}  ({len(r['inputs'])} file(s))"


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    inputs = existing_inputs(args.inputs)
    # The background loads (ANTs, the model) start with the first series that passes intake:
    # a run whose every series is rejected (a foreign tracer) never imports them.
    pipeline = make_pipeline(cfg, defer_preload=True)
    try:
        results = pipeline.process_paths(inputs, args.out, progress=not args.json and show_progress(args))
    finally:   # loads not started yet (the later series were rejected) are dropped
        pipeline.close()
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for r in results:
            print(summary_line(r))
        n_ok = sum(r["status"] == "ok" for r in results)
        print(f"{n_ok} of {len(results)} series processed; results in {args.out}")
    return 0 if results and all(r["status"] == "ok" for r in results) else 1
