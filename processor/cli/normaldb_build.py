"""``spectssp normaldb build``: a normal database from a site's own normal DICOM studies."""
from __future__ import annotations

import argparse
import hashlib
import logging
import os
from pathlib import Path

from tqdm import tqdm

from atlas import load_atlas
from atlas.normaldb_build import NormalDatabaseBuilder
from processor.cli.common import existing_inputs
from processor.config import load_config
from processor.intake import intake_options, load_series, normalise_tracer
from processor.registration import register
from spectssp.errors import ErrorCode, SpectSSPError

log = logging.getLogger(__name__)


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
        raise SpectSSPError(rejected[0].error.code, f"{len(rejected)} input series rejected (--strict).")
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
    failed = 0
    for s in tqdm(ok, desc="normal studies", unit="study"):
        try:
            reg = register(s.image, atlas, cfg.registration.stages, cfg.registration.threads, cfg.registration.seed,
                           profile=cfg.registration.profile)
            if reg.qc < cfg.registration.qc_threshold:
                raise SpectSSPError(ErrorCode.REGISTRATION_FAILED, f"QC r={reg.qc:.3f} below {cfg.registration.qc_threshold}")
            # no patient ID: databases are shared and bundled; UID and age are enough
            builder.add(reg.volume, {"series_uid": s.series_uid, "age": _age_years(s.header), "qc": round(reg.qc, 4)},
                        estimate_on=reg.linear_volume)
        except SpectSSPError as exc:
            failed += 1
            print(f"rejected  {s.series_uid}  [{exc.code}] {exc.message}")
        except (ValueError, RuntimeError) as exc:  # one bad study must not lose the others
            failed += 1
            print(f"failed    {s.series_uid}  [{ErrorCode.INTERNAL_ERROR}] {exc}")
    if failed and args.strict:  # --strict: no database unless every series made it in
        raise SpectSSPError(ErrorCode.REGISTRATION_FAILED, f"{failed} of {len(ok)} series failed registration or its "
                            f"quality control (--strict); no database written to {str(args.out)!r}.")
    try:
        ndb = builder.build(note=args.note)
    except ValueError as exc:
        raise SpectSSPError(ErrorCode.NORMAL_DB_MISMATCH, str(exc) + ".") from None
    try:
        ndb.save(args.out)
    except OSError as exc:
        raise SpectSSPError(ErrorCode.OUTPUT_WRITE_FAILED, f"cannot write {str(args.out)!r}: {exc.strerror or exc}.") from None
    print(f"normal database {args.out}: {ndb.n} members, tracer {tracer}, "
          f"{len(rejected) + failed} series left out")
    return 0 if not (rejected or failed) else 1


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
