"""``spectssp inspect PATH...``: show what intake makes of DICOM files, one line per series.

Nothing is written; exit status 0 when every series is accepted, 1 when any is rejected.
"""
from __future__ import annotations

import argparse
import sys

from processor.config import load_config
from processor.intake import intake_options, load_series


def _clean(value: object, width: int | None = None) -> str:
    """Printable single-line text, whatever bytes a header held."""
    s = "-" if value in (None, "") else str(value)
    s = "".join(ch if ch.isprintable() else "?" for ch in s)
    if width and len(s) > width:
        s = s[: width - 1] + "~"
    return s


def _date(value: str | None) -> str:
    if value and len(value) == 8 and value.isdigit() and value != "00000000":
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return _clean(value)


def _short_uid(uid: str | None) -> str:
    return "-" if not uid else (uid if len(uid) <= 20 else "..." + uid[-17:])


def format_line(r) -> str:
    """One line for one :class:`SeriesIntake`."""
    matrix = "x".join(str(n) for n in r.matrix) if r.matrix else "-"
    spacing = "x".join(f"{s:.2f}" for s in r.spacing_mm) + " mm" if r.spacing_mm else "-"
    # the compound, else the radionuclide alone (e.g. Tc-99m from a code or the energy window)
    tracer = r.tracer_id.name or r.tracer_id.radionuclide or (_clean(r.tracer_text, 12) + "?" if r.tracer_text else "-")
    if r.ok:
        verdict = "OK" + (f" ({len(r.warnings)} warning{'s' if len(r.warnings) > 1 else ''})" if r.warnings else "")
    else:
        verdict = f"REJECTED [{r.error.code}] {r.error.message}"
    who = _clean(r.patient_id, 16)
    if r.series_uid is None and r.files:
        who = _clean(r.files[0].name, 16)
    return (f"{who:<16} {_date(r.study_date):<10} {_short_uid(r.series_uid):<20} "
            f"{_clean(r.modality, 3):<3} {matrix:<11} {spacing:<19} {tracer:<6} {verdict}")


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    results = load_series(args.paths, **intake_options(cfg.intake), expected_tracer=args.tracer)
    out = sys.stdout
    if hasattr(out, "reconfigure"):
        out.reconfigure(errors="replace")  # a terminal without UTF-8 must not end the listing
    print(f"{'patient':<16} {'date':<10} {'series':<20} {'mod':<3} {'matrix':<11} {'voxel':<19} "
          f"{'tracer':<6} verdict", file=out)
    for r in results:
        print(format_line(r), file=out)
        if args.warnings:
            if r.tracer_id.evidence:
                t = r.tracer_id
                print(f"    tracer: {t.name or '-'} ({t.radionuclide or '-'}) from {_clean('; '.join(t.evidence))}",
                      file=out)
            for w in r.warnings:
                print(f"    warning: {_clean(w)}", file=out)
    n_bad = sum(not r.ok for r in results)
    n_files = sum(len(r.files) for r in results)
    print(f"{len(results)} series from {n_files} file(s): {len(results) - n_bad} accepted, {n_bad} rejected.",
          file=out)
    return 1 if n_bad else 0
