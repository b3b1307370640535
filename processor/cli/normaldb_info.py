"""``spectssp normaldb info``: summary and leave-one-out specificity of a normal database, or
(without a file) one line per database the configuration uses.

A module of its own so that it imports neither intake (pydicom) nor registration.
"""
from __future__ import annotations

import argparse

from atlas.normaldb import NormalDatabase
from processor.config import load_config
from processor.daemon.status import database_lines, database_summaries
from processor.registration_qc import kept_member_qc, outliers, screened_at_build
from spectssp.errors import ErrorCode, SpectSSPError


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    if args.file is None:   # no file: the databases the configuration uses
        dbs = database_summaries(cfg)
        print("\n".join(database_lines(dbs)))
        return 1 if any("error" in d for d in dbs) else 0
    try:
        ndb = NormalDatabase.load(args.file, volumes=False)
    except ValueError as exc:
        raise SpectSSPError(ErrorCode.NORMAL_DB_MISMATCH, str(exc)) from None
    m = ndb.meta
    print(f"file:        {args.file}")
    print(f"members:     {ndb.n}   tracer: {ndb.tracer}   age range: {m.get('age_range')}")
    print(f"built:       {m.get('created')} with {m.get('software')}; SSP depth {m.get('depth_mm')} mm")
    if ndb.resolution_fwhm_mm is None:
        print("resolution:  members used as registered (not harmonised)")
    else:
        est = [mm["estimated_fwhm_mm"] for mm in m.get("members", []) if "estimated_fwhm_mm" in mm]
        span = f"; members estimated {min(est):.1f}-{max(est):.1f} mm" if est else ""
        print(f"resolution:  harmonised to {ndb.resolution_fwhm_mm:g} mm FWHM{span}")
    t = m.get("template") if ndb.template is not None else None
    site = (f"site ({t.get('rounds')} rounds{', symmetric' if t.get('symmetric') else ''}, "
            f"{t.get('averaged')} series averaged)" if isinstance(t, dict) else "site" if t is not None else "bundled")
    qc = ndb.member_qc()
    floor = cfg.registration.qc_floor
    kept = kept_member_qc(qc, screened_at_build(m), floor)
    if kept is None:
        rule = "absolute threshold registration.qc_threshold (no member QC values for this template)"
    elif len(kept) == len(qc):
        rule = f"members' QC r {kept.min():.3f}-{kept.max():.3f} (studies judged against them)"
    else:
        rule = (f"members' QC r {qc.min():.3f}-{qc.max():.3f}; studies judged against the {len(kept)} kept "
                f"r {kept.min():.3f}-{kept.max():.3f}")
    print(f"template:    {site}; {rule}")
    if qc is not None:
        print(f"QC outliers: {_outlier_line(ndb, qc, floor)}")
    if m.get("note"):
        print(f"note:        {m['note']}")
    if ndb.n < 3:
        print("LOO:         leave-one-out maps need at least 3 members")
        return 0
    loo = ndb.loo_z()
    thr = cfg.ssp.z_threshold
    for i, r in enumerate(ndb.references):
        frac = 100.0 * (loo[:, i, :] > thr).mean(axis=1)
        print(f"LOO {r}:     {frac.mean():.2f} % of surface pixels with Z > {thr:g} (member max {frac.max():.2f} %)")
    return 0


def _outlier_line(ndb: NormalDatabase, qc, floor: float) -> str:
    """The members left out at build time as QC outliers, or, for a database built before that
    rule, those processing leaves out of the QC distribution (still in its mean/SD)."""
    if screened_at_build(ndb.meta):
        names = [f"{m.get('series_uid')} r={_r(m.get('qc'))}" for m in ndb.meta["qc_left_out"] if isinstance(m, dict)]
        return ("left out at build: " + ", ".join(names)) if names else "none left out at build"
    left = [f"r={v:.3f}" for v in qc[outliers(qc, floor)]]
    return ("not screened at build; studies are judged without " + ", ".join(left) + " (still in the mean/SD)"
            if left else "not screened at build; none found")


def _r(value) -> str:
    """A recorded QC value as the other lines print it (3 decimals), or as stored if not a number."""
    return f"{value:.3f}" if isinstance(value, (int, float)) else str(value)
