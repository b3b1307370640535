"""``spectssp normaldb build``: a normal database from a site's own normal DICOM studies."""
from __future__ import annotations

import argparse
import hashlib
import logging
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from atlas import load_atlas
from atlas.normaldb_build import NormalDatabaseBuilder
from processor.cli.common import existing_inputs, show_progress
from processor.config import load_config
from processor.intake import intake_options, load_series, normalise_tracer
from processor.registration import register
from processor.registration_qc import outlier_cut
from processor.site_template import build_template
from spectssp.errors import ErrorCode, SpectSSPError

log = logging.getLogger(__name__)


# what a user refused by --strict can do next
_WITHOUT_STRICT = ("the lines above name them; without --strict they are left out and the rest are used "
                   "(the command then exits 1).")


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    inputs = existing_inputs(args.inputs)
    _check_writable(args.out)
    # no tracer expected yet: the database takes the tracer of its members
    series = load_series(inputs, **{**intake_options(cfg.intake), "tracer_policy": "warn"}, expected_tracer=None)
    rejected = [s for s in series if s.status != "ok"]
    for s in rejected:  # name series by UID, never by path (folder names are often patient names)
        print(f"rejected  {s.series_uid or 'file ' + _short_hash(s.files[0])}  [{s.error.code}] {s.error.message}")
    ok = [s for s in series if s.status == "ok"]
    if rejected and args.strict:
        raise SpectSSPError(rejected[0].error.code,
                            f"{len(rejected)} input series rejected (--strict); {_WITHOUT_STRICT}")
    tracers = {s.tracer or "unknown" for s in ok}
    if args.tracer:
        args.tracer = normalise_tracer(args.tracer) or args.tracer
        wrong = [t for t in tracers if t != args.tracer]
        if wrong:
            raise SpectSSPError(ErrorCode.TRACER_NOT_COVERED, f"inputs include tracer {wrong[0]!r}, not {args.tracer!r}.")
    if len(tracers) > 1:
        raise SpectSSPError(ErrorCode.TRACER_NOT_COVERED, "inputs mix tracers (" + ", ".join(sorted(tracers))
                            + "); a normal database holds one tracer only.")
    tracer = args.tracer or (tracers.pop() if tracers else "unknown")
    atlas = load_atlas()
    builder = NormalDatabaseBuilder(atlas, cfg.ssp.depth_mm, tracer,
                                    resolution_fwhm_mm=cfg.ssp.resolution_fwhm_mm,
                                    registration_stages=cfg.registration.stages,
                                    registration_profile=cfg.registration.profile)
    rc = cfg.registration
    register_kw = dict(stages=rc.stages, threads=rc.threads, seed=rc.seed, profile=rc.profile)
    rounds = rc.site_template_rounds if args.template_rounds is None else args.template_rounds
    symmetric = bool(args.symmetric_template or rc.site_template_symmetric)
    progress = show_progress(args)
    template, template_meta = _site_template(ok, atlas, rounds, symmetric, rc.qc_floor, register_kw, progress)
    # Members of a database with a site template are judged against it at the gross-failure
    # floor (their spread is what patients are then judged against); without one, as before.
    threshold = rc.qc_threshold if template is None else rc.qc_floor
    failed = 0
    for s in tqdm(ok, desc="normal studies" if template is None else "normal studies, site template", unit="study",
                  disable=not progress):
        try:
            reg = register(s.image, atlas, template=template, **register_kw)
            if reg.qc < threshold:
                raise SpectSSPError(ErrorCode.REGISTRATION_FAILED, f"QC r={reg.qc:.3f} below {threshold}")
            # no patient ID: databases are shared and bundled; UID and age are enough
            builder.add(reg.volume, {"series_uid": s.series_uid, "age": _age_years(s.header), "qc": round(reg.qc, 4)},
                        estimate_on=reg.linear_volume)
        except SpectSSPError as exc:
            failed += 1
            print(f"rejected  {s.series_uid}  [{exc.code}] {exc.message}")
        except (ValueError, RuntimeError) as exc:  # one bad study must not lose the others
            failed += 1
            print(f"failed    {s.series_uid}  [{ErrorCode.INTERNAL_ERROR}] {exc}")
    left_out = _leave_out_outliers(builder, rc.qc_floor)
    if (failed or left_out) and args.strict:  # --strict: no database unless every series made it in
        raise SpectSSPError(ErrorCode.REGISTRATION_FAILED, f"{failed + len(left_out)} of {len(ok)} series failed "
                            "registration or its quality control, or were left out as QC outliers (--strict); "
                            f"no database written to {str(args.out)!r}. "
                            f"{_WITHOUT_STRICT.capitalize()}")
    try:
        ndb = builder.build(note=args.note, template=template, template_meta=template_meta,
                            member_qc_template="bundled" if template is None else "site")
        ndb.meta["qc_left_out"] = left_out   # additive; present (maybe empty): the members were screened
    except ValueError as exc:
        raise SpectSSPError(ErrorCode.NORMAL_DB_MISMATCH, str(exc) + ".") from None
    try:
        ndb.save(args.out)
    except OSError as exc:
        raise SpectSSPError(ErrorCode.OUTPUT_WRITE_FAILED, f"cannot write {str(args.out)!r}: {exc.strerror or exc}.") from None
    qc = [m["qc"] for m in ndb.meta["members"]]
    site = "bundled template" if template is None else f"site template ({rounds} rounds{', symmetric' if symmetric else ''})"
    print(f"normal database {args.out}: {ndb.n} members, tracer {tracer}, registered to the {site}, "
          f"members' QC r {min(qc):.3f}-{max(qc):.3f}, {_left_out(rejected, failed + len(left_out))}"
          + (f" ({len(left_out)} as QC outliers: " + ", ".join(f"{m['series_uid']} r={m['qc']:.3f}" for m in left_out)
             + ")" if left_out else ""))
    return 0 if not (rejected or failed or left_out) else 1


def _leave_out_outliers(builder: NormalDatabaseBuilder, floor: float) -> list[dict]:
    """Drop the members whose QC is an outlier of the members' distribution (one poorly
    registered member would otherwise lower the QC threshold of every later study); a warning
    line each. Returns their series UID and QC for the database's meta ``qc_left_out``."""
    qc = np.array([m["qc"] for m in builder.members], dtype=np.float64)
    if qc.size == 0:
        return []
    cut = outlier_cut(qc, floor)
    idx = [int(i) for i in np.flatnonzero(qc < cut)]
    left = [{"series_uid": builder.members[i]["series_uid"], "qc": builder.members[i]["qc"]} for i in idx]
    for m in left:
        why = (f"below registration.qc_floor {floor}" if m["qc"] < floor else
               f"an outlier of the members' QC (median {np.median(qc):.3f}; outliers below {cut:.3f})")
        print(f"left out  {m['series_uid']}  [{ErrorCode.REGISTRATION_FAILED}] QC r={m['qc']:.3f} is {why}: not "
              "in the database's mean/SD, nor among the QC values studies are judged against")
    builder.leave_out(idx)
    return left


def _site_template(ok: list, atlas, rounds: int, symmetric: bool, floor: float,
                   register_kw: dict, progress: bool) -> tuple:
    """The site template and its metadata, or (None, None) for ``rounds`` 0 or too few series."""
    if rounds == 0 or len(ok) < 3:   # fewer than 3 makes no database anyway: the build says so
        return None, None

    averaged: list[int] = []

    def report(r: int, used: int, total: int, left_out: list[tuple[int, float]]) -> None:
        averaged.append(used)
        print(f"site template round {r}/{rounds}: averaged {used} of {total} series (QC r >= {floor}, "
              "QC outliers left out)")
        for i, qc in left_out:
            print(f"left out  {ok[i].series_uid}  of round {r}'s average: QC r={qc:.3f} is an outlier of the "
                  "series' QC against this round's template")

    try:
        template = build_template([s.image for s in ok], atlas, rounds, symmetric=symmetric, floor=floor,
                                  register_kw=register_kw, report=report, progress=progress)
    except ValueError as exc:
        raise SpectSSPError(ErrorCode.REGISTRATION_FAILED, f"cannot make a site template: {exc} "
                            f"(QC floor registration.qc_floor = {floor}).") from None
    return template, {"rounds": rounds, "symmetric": symmetric, "series": len(ok), "averaged": averaged[-1],
                      "qc_floor": floor}


def _left_out(rejected: list, failed: int) -> str:
    """How many series were left out, and apart from them the files that are not DICOM at all
    (sidecars, notes: counting those as series misleads)."""
    not_dicom = sum(1 for s in rejected if s.error is not None and s.error.code == ErrorCode.NOT_DICOM)
    text = f"{len(rejected) - not_dicom + failed} series left out"
    return text + (f", {not_dicom} non-DICOM file(s) ignored" if not_dicom else "")


def _short_hash(path) -> str:
    return hashlib.sha1(str(path).encode("utf-8", "surrogateescape")).hexdigest()[:10]


def _check_writable(out: Path) -> None:
    """Fail before hours of registration, not after."""
    parent = out.resolve().parent
    if out.is_dir() or not parent.is_dir() or not os.access(parent, os.W_OK):
        raise SpectSSPError(ErrorCode.OUTPUT_WRITE_FAILED, f"cannot write the database to {str(out)!r} "
                            "(a folder, or its folder is missing or read-only).")


def _age_years(header) -> float | None:
    """PatientAge ('072Y', '006M', ...) in years, or None when absent or malformed."""
    text = str(getattr(header, "PatientAge", "") or "") if header is not None else ""
    units = {"Y": 1.0, "M": 1 / 12, "W": 1 / 52.18, "D": 1 / 365.25}
    if len(text) == 4 and text[:3].isdigit() and text[3] in units:
        return round(int(text[:3]) * units[text[3]], 1)
    return None
