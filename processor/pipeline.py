"""The pipeline: the only place where the order of stages is written.

intake -> registration (+QC, field-of-view coverage) -> 3D-SSP statistics -> classification -> outputs -> result.json

Each series gets one result folder, written in a staging folder and published by rename, so a
crash never leaves half an output. Every input file is accounted for in exactly one result.
"""
from __future__ import annotations

import functools
import importlib
import logging
import shutil
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from tqdm import tqdm

from atlas import load_atlas
from atlas.analysis import Resolution, SSPAnalyser
from atlas.load import BUNDLED_NORMAL_DATABASE
from atlas.normaldb import NormalDatabase
from models import BUNDLED_MODEL_DIR
from models.inference import card_normal_database_sha256, import_heat_method, load_classifier, verify_model
from processor import outputs
from processor.config import BUNDLED, Section, database_entries, processing_sha256
from processor.coverage import judge_coverage, measure_coverage
from processor.intake import find_files, intake_options, scan_series
from processor.intake.load import expected_name
from processor.preload import Preloader
from processor.provenance import check_provenance
from processor.registration import register
from processor.registration_qc import failure_message, flag_warning, judge, kept_member_qc, screened_at_build
from processor.result import Hashes, NormalDatabaseInfo, Result, ResultError, Status, inputs_sha256
from spectssp.clock import PartClock
from spectssp.core.resolution import is_coarser
from spectssp.errors import ErrorCode, SpectSSPError
from spectssp.fsutil import atomic_write_json, publish_dir, safe_name

log = logging.getLogger(__name__)


def resolve_normal_database(cfg: Section) -> Path:
    path = BUNDLED_NORMAL_DATABASE if cfg.normal_database == BUNDLED else Path(cfg.normal_database)
    if not path.is_file():
        raise SpectSSPError(ErrorCode.NORMAL_DB_MISMATCH, f"normal database {str(path)!r} not found; build one with "
                            "'spectssp normaldb build'.")
    return path


def resolve_model(cfg: Section) -> Path | None:
    if cfg.model is None:
        return None
    path = BUNDLED_MODEL_DIR if cfg.model == BUNDLED else Path(cfg.model)
    if cfg.model == BUNDLED and not (path / "model.json").is_file():
        return None
    return path


def _load_model(model_path: Path, device: str, verified: tuple[dict, str], threads: int = 0):
    """The classifier and what its heat map imports (the background load of the model)."""
    clf = load_classifier(model_path, device=device, verified=verified, threads=threads)
    import_heat_method(clf)
    return clf


_PENDING = object()   # the classifier before its background load was awaited

StageObserver = Callable[[str], None]
STAGES = ("read", "register", "ssp", "classify", "write")   # what an observer hears, in this order


def _tell(observer: StageObserver | None, stage: str) -> None:
    """Tell ``observer`` that ``stage`` begins; an observer that fails never fails the series."""
    if observer is None:
        return
    try:
        observer(stage)
    except Exception:  # noqa: BLE001 - a status display must not cost a result
        log.debug("stage observer failed at %s", stage, exc_info=True)


def _reading(series: Any, observer: StageObserver | None) -> Iterator[Any]:
    """The series one by one, telling ``observer`` "read" again before each later one's pixels
    are read (iterating a :class:`SeriesScan` reads them; the first "read" came before intake)."""
    it = iter(series)
    for i in range(len(series)):
        if i:
            _tell(observer, "read")
        try:
            yield next(it)
        except StopIteration:
            return


class Pipeline:
    """Loads the atlas, normal database and model once; processes series one by one.

    Construction checks everything that can be wrong with the configuration (normal database,
    model card and weights) and returns in about a second; what only later stages need
    (``import ants``, the resolution matcher, the model's networks) then loads in a background
    thread (:mod:`processor.preload`) that each stage awaits. ``background=False`` loads the
    resolution matcher and the model before returning and leaves ``import ants`` to the first
    registration, as before (``make bench`` compares the two). ``defer_preload=True`` (one-shot
    ``spectssp process``) starts those loads once the input's headers are scanned and one series'
    headers pass intake's header checks (tracer rule included), before any pixel is read; a run
    whose every series is rejected from its headers never pays for ANTs or torch.
    """

    def __init__(self, cfg: Section, background: bool = True, defer_preload: bool = False) -> None:
        self.cfg = cfg
        self.on_stage: StageObserver | None = None   # called with each stage's name as it begins (STAGES)
        clock = PartClock()
        self.startup_s = clock.s   # what construction spent, part by part
        self.atlas = load_atlas()
        clock.lap("atlas")
        ndb_path = resolve_normal_database(cfg)
        try:
            self.ndb = NormalDatabase.load(ndb_path, volumes=False)
        except ValueError as exc:
            raise SpectSSPError(ErrorCode.NORMAL_DB_MISMATCH, str(exc)) from None
        clock.lap("normal database")
        if (self.ndb.meta.get("atlas_sha256") != self.atlas.sha256
                or self.ndb.raw_ssp.shape[1] != self.atlas.surface.n_pixels):
            raise SpectSSPError(ErrorCode.NORMAL_DB_MISMATCH, f"normal database {ndb_path.name} was built on another "
                                "atlas version; rebuild it with 'spectssp normaldb build'.")
        depth = float(self.ndb.meta.get("depth_mm", cfg.ssp.depth_mm))
        if abs(depth - cfg.ssp.depth_mm) > 1e-6:
            raise SpectSSPError(ErrorCode.NORMAL_DB_MISMATCH, f"normal database was built with SSP depth {depth} mm "
                                f"but ssp.depth_mm is {cfg.ssp.depth_mm}; they must match.")
        if not _same_resolution(self.ndb.resolution_fwhm_mm, cfg.ssp.resolution_fwhm_mm):
            raise SpectSSPError(ErrorCode.NORMAL_DB_MISMATCH, "normal database was built at harmonised resolution "
                                f"{_fwhm_text(self.ndb.resolution_fwhm_mm)} but ssp.resolution_fwhm_mm is "
                                f"{_fwhm_text(cfg.ssp.resolution_fwhm_mm)}; they must match: set "
                                "ssp.resolution_fwhm_mm to the database's value or rebuild the database with "
                                "'spectssp normaldb build'.")
        if self.ndb.template is not None and self.ndb.template.shape != self.atlas.template.shape:
            raise SpectSSPError(ErrorCode.NORMAL_DB_MISMATCH, f"normal database {ndb_path.name} holds a site "
                                "template on another grid than the atlas; rebuild it with 'spectssp normaldb build'.")
        # None: the absolute QC threshold applies; outlying members left out (older databases: here)
        stored_qc = self.ndb.member_qc()
        self.member_qc = kept_member_qc(stored_qc, screened_at_build(self.ndb.meta), cfg.registration.qc_floor)
        self.member_qc_left_out = 0 if stored_qc is None else len(stored_qc) - len(self.member_qc)
        check_provenance(self.ndb, cfg, ndb_path.name)   # registration stages, software version
        self.ndb_path = ndb_path
        self.analyser = SSPAnalyser(self.atlas, self.ndb, cfg.ssp.depth_mm, cfg.ssp.z_threshold,
                                    cfg.classifier.reference)
        clock.lap("checks")
        self.model_path = resolve_model(cfg)
        card: dict[str, Any] = {}
        self.model_sha256: str | None = None
        if self.model_path is not None:
            try:
                verified = verify_model(self.model_path)
            except (OSError, ValueError) as exc:
                raise SpectSSPError(ErrorCode.MODEL_ERROR, f"cannot load the model at {str(self.model_path)!r}: {exc}") from None
            card, self.model_sha256 = verified
        clock.lap("model card")
        self.preload = Preloader(background)
        self._loads: list[tuple[str, Callable[[], Any]]] = []   # submitted by start_preload()
        self._loads_lock = threading.Lock()   # start_preload() may be called from several threads
        if background:   # else the first registration imports it, as it always did
            self._loads.append(("ants", functools.partial(importlib.import_module, "ants")))
        if self.ndb.resolution_fwhm_mm is not None:
            self._loads.append(("resolution matcher", lambda: self.atlas.resolution_matcher))
        self._classifier: Any = None
        if self.model_path is not None:
            self._classifier = _PENDING
            self._loads.append(("model", functools.partial(_load_model, self.model_path, cfg.classifier.device,
                                                           verified, cfg.registration.threads)))
        if not (background and defer_preload):
            self.start_preload()
        if not background:
            self.preload.wait("resolution matcher")   # a build that failed raises here
            _ = self.classifier   # a model that does not load stops the pipeline here
            clock.lap("preload (now)")
        self.write_parts_s: dict[str, float] = {}   # the last study's outputs, part by part
        self.startup_warnings: list[str] = []
        trained_on = card_normal_database_sha256(card)
        if self.model_path is not None and trained_on and trained_on != self.ndb.sha256():
            # The CNN sees Z maps; against another database they shift. A site's own database is
            # the supported reading (validity report, session 12: rule (d)), but every result says
            # which network read which database.
            self.startup_warnings.append(
                f"the model {card['name']} was trained against another normal database "
                f"({trained_on[:12]}) than the one in use ({self.ndb.sha256()[:12]}); reading a site's "
                "own database with it is supported (docs/evaluation/validity-report.md, session 12), "
                "retraining on it with 'spectssp train --normaldb' is optional")
            log.warning(self.startup_warnings[-1])
        self.ndb_info = NormalDatabaseInfo(str(ndb_path), self.ndb.n, self.ndb.tracer, self.ndb.sha256()[:16])

    @property
    def classifier(self):
        """The loaded classifier (awaiting its background load), None without a model; a model
        that fails to load raises MODEL_ERROR here, for every study that needs it."""
        if self._classifier is _PENDING:
            self.start_preload()
            try:
                self._classifier = self.preload.result("model")
            except (OSError, ValueError, RuntimeError, ImportError) as exc:
                raise SpectSSPError(ErrorCode.MODEL_ERROR,
                                    f"cannot load the model at {str(self.model_path)!r}: {exc}") from None
        return self._classifier

    @classifier.setter
    def classifier(self, clf) -> None:
        self._classifier = clf

    @property
    def preload_pending(self) -> bool:
        """Loads deferred and not started yet (``defer_preload``)."""
        return bool(self._loads)

    def start_preload(self) -> None:
        """Submit the background loads (ANTs, resolution matcher, model), once. Swapped and
        submitted under a lock: a second caller returns only once every load is submitted, so
        its ``preload.wait`` never finds a load missing and skips it."""
        with self._loads_lock:
            loads, self._loads = self._loads, []
            for name, load in loads:
                self.preload.submit(name, load)

    def hashes(self, files: list[Path]) -> Hashes:
        """What a result from ``files`` is computed from (result.json ``hashes``)."""
        return Hashes(inputs_sha256(files), processing_sha256(self.cfg), self.ndb.sha256(), self.model_sha256)

    def close(self) -> None:
        """Drop background loads not started yet (a caller that stops early need not wait for them)."""
        self.preload.close()

    # -- stages -------------------------------------------------------------------------
    def intake(self, paths: list[Path]):
        """Headers of every file now; each series' pixels as the iteration reaches it."""
        return scan_series(paths, **intake_options(self.cfg.intake), expected_tracer=self.ndb.tracer)

    def process_paths(self, paths: list[Path], out_root: Path, progress: bool = False) -> list[dict[str, Any]]:
        """Every series found in ``paths``, each into its result folder under ``out_root``. The
        results come back in their result.json form (:meth:`Result.as_dict`): what callers read
        (CLI, daemon workers through a pipe, evaluation) is exactly what was written."""
        _tell(self.on_stage, "read")
        series = self.intake(_exclude_outputs(paths, out_root))
        if self.preload_pending and series.header_matches():   # deferred: start them before any pixel read
            self.start_preload()
        results = []
        it: Iterable[Any] = _reading(series, self.on_stage)
        if progress and len(series) > 1:
            it = tqdm(it, desc="series", unit="series", total=len(series))
        for s in it:   # one volume in memory at a time: each is dropped once its result is written
            results.append(self.process_series(s, out_root, s.read_s))
        return results

    def process_series(self, s, out_root: Path, read_s: float = 0.0) -> dict[str, Any]:
        """One series through the stages into its published result folder; its result.json
        form (also when nothing could be written)."""
        t_start = time.perf_counter()
        result = Result(s.files, s.study_uid, s.series_uid, warnings=[*s.warnings, *self.startup_warnings],
                        normal_database=self.ndb_info, hashes=self.hashes(s.files),
                        tracer=s.tracer_id.as_dict() if s.header is not None else None)
        result.timings_s.read = round(read_s, 3)
        name = safe_name(s.series_uid, "|".join(str(p) for p in s.files))
        final = out_root / name
        try:
            out_root.mkdir(parents=True, exist_ok=True)
            # a fresh, unique staging folder: never one a killed run left behind
            staging = Path(tempfile.mkdtemp(dir=out_root, prefix=f".staging-{name}-"))
        except OSError as exc:
            result.error = ResultError(ErrorCode.OUTPUT_WRITE_FAILED,
                                       f"cannot write results: no result folder can be made in {str(out_root)!r}: "
                                       f"{exc.strerror or exc}.")
            log.error("series %s: %s", s.series_uid or "-", result.error.message)
            return result.as_dict()
        try:
            if s.status != "ok":
                raise s.error
            self.start_preload()   # a no-op unless deferred and no header passed (process_series alone)
            self._run_stages(s, result, staging, final)
            result.status = Status.OK
        except SpectSSPError as exc:
            result.status = Status(exc.code.status)
            result.error = ResultError.of(exc)
            log.warning("series %s %s: %s", s.series_uid or "-", result.status.value, exc)
        except Exception as exc:  # a bug must not take the batch down; the log keeps the trace
            log.error("internal error on series %s", s.series_uid or "-", exc_info=True)
            result.status = Status.FAILED
            result.error = ResultError(ErrorCode.INTERNAL_ERROR, f"unexpected {type(exc).__name__}: {exc}")
        result.timings_s.total = round(time.perf_counter() - t_start + read_s, 3)
        published = result.relocated(staging, final).as_dict()
        try:
            atomic_write_json(staging / "result.json", published)
            publish_dir(staging, final)
        except (OSError, TypeError, ValueError) as exc:
            result.status = Status.FAILED
            result.outputs = []
            reason = getattr(exc, "strerror", None) or str(exc)
            result.error = ResultError(ErrorCode.OUTPUT_WRITE_FAILED, f"cannot write results to {str(final)!r}: {reason}")
            log.error("series %s: %s", s.series_uid or "-", result.error.message)
            shutil.rmtree(staging, ignore_errors=True)
            return result.as_dict()
        return published

    def _run_stages(self, s, result: Result, staging: Path, final: Path) -> None:
        cfg, timings = self.cfg, result.timings_s

        _tell(self.on_stage, "register")
        t = time.perf_counter()
        self.preload.wait("ants")
        rc = cfg.registration
        reg = register(s.image, self.atlas, rc.stages, rc.threads, rc.seed, profile=rc.profile,
                       template=self.ndb.template)
        timings.register = round(time.perf_counter() - t, 3)
        verdict = judge(reg.qc, self.member_qc, absolute=rc.qc_threshold, floor=rc.qc_floor,
                        warn_margin=rc.qc_warn_margin, reject_margin=rc.qc_reject_margin,
                        left_out=self.member_qc_left_out)
        result.registration = replace(reg.report(verdict.threshold), template=self.ndb.template_kind,
                                      qc_members=verdict.members)
        if not result.registration.passed or verdict.flagged:
            qc_png = outputs.write_registration_qc(staging, reg.volume, self.atlas)
            result.registration = replace(result.registration, qc_image=str(qc_png))
        if not result.registration.passed:
            raise SpectSSPError(ErrorCode.REGISTRATION_FAILED,
                                failure_message(reg.qc, verdict, self.ndb.template_kind))
        if verdict.flagged and verdict.members is not None:
            result.warnings.append(flag_warning(reg.qc, verdict.members, verdict.left_out))

        if cfg.coverage.enabled and reg.fov is not None:
            result.coverage = measure_coverage(reg.fov, self.atlas, self.analyser.references)
            result.warnings += judge_coverage(result.coverage, self.analyser.references,
                                              cfg.coverage.max_outside, cfg.coverage.warn_outside)

        _tell(self.on_stage, "ssp")
        t = time.perf_counter()
        self.preload.wait("resolution matcher")
        try:
            ssp = self.analyser.analyse(reg.volume, estimate_on=reg.linear_volume)
        except ValueError as exc:  # a reference region without counts (outside the field of view)
            raise SpectSSPError(ErrorCode.DEGENERATE_COUNTS, f"after registration, {exc}; the field of view "
                                "may not cover the whole brain.") from None
        timings.ssp = round(time.perf_counter() - t, 3)
        result.statistics = ssp.statistics()
        if ssp.resolution is not None:
            warning = resolution_warning(ssp.resolution)
            if warning:
                result.warnings.append(warning)

        _tell(self.on_stage, "classify")
        t = time.perf_counter()
        prediction = None
        if self.classifier is not None:
            try:
                prediction = self.classifier.predict_ssp(self.atlas.surface, ssp)
            except (RuntimeError, ValueError) as exc:
                raise SpectSSPError(ErrorCode.MODEL_ERROR, f"the classifier failed: {exc}") from None
            result.classification = prediction.classification(cfg.classifier.indeterminate_below)
            warning = outputs.atypical_warning(result.classification.atypical)
            if warning:
                result.warnings.append(warning)
        else:
            result.warnings.append("statistics only: no model configured (classification is null)"
                                   if self.cfg.model is None else
                                   "statistics only: the bundled model is not installed (classification is null)")
        timings.classify = round(time.perf_counter() - t, 3)

        _tell(self.on_stage, "write")
        t = time.perf_counter()
        clock = PartClock()
        self.write_parts_s = clock.s
        try:
            result.outputs = outputs.write_all(
                staging, s, ssp, prediction, result, self.atlas, cfg,
                ndb_label=f"normal DB: {self.ndb_info.tracer}, N={self.ndb.n}, {self.ndb_path.name}",
                model_sha=self.model_sha256, clock=clock, ndb_sha=self.ndb.sha256())
        except OSError as exc:
            raise SpectSSPError(ErrorCode.OUTPUT_WRITE_FAILED, f"cannot write outputs: {exc.strerror or exc}") from None
        timings.write = round(time.perf_counter() - t, 3)


def resolution_warning(resolution: Resolution) -> str | None:
    """A sentence when the study is coarser than the database (harmonisation cannot sharpen)."""
    est, target = resolution.estimated_fwhm_mm, resolution.target_fwhm_mm
    if not is_coarser(est, target):
        return None
    return (f"the study's effective resolution ({est:.1f} mm FWHM) is coarser than the normal database's "
            f"({target:.1f} mm): cortical decreases may be overstated")


def _same_resolution(a: float | None, b: float | None) -> bool:
    return (a is None) == (b is None) and (a is None or abs(a - b) < 1e-6)


def _fwhm_text(v: float | None) -> str:
    return "none (not harmonised)" if v is None else f"{v:g} mm"


def _exclude_outputs(paths: list[Path], out_root: Path) -> list[Path]:
    """Inputs without our own result folders, when --out lies inside an input folder (else a
    second run would read its own SCs and SR as inputs)."""
    out = Path(out_root).resolve()
    if not any(out.is_relative_to(Path(p).resolve()) for p in paths if Path(p).is_dir()):
        return list(paths)
    return [f for f in find_files(paths) if not f.resolve().is_relative_to(out)]


def one_database_only(cfg: Section, command: str) -> None:
    """Commands that measure one database and model (demo, bench, evaluate, batch) stop with a
    sentence when ``normal_databases:`` lists several: they would otherwise use
    ``normal_database`` silently."""
    if cfg.normal_databases:
        raise SpectSSPError(ErrorCode.CONFIG_INVALID, f"'spectssp {command}' uses one normal database, but the "
                            "configuration lists several under 'normal_databases'; give it a configuration with "
                            "'normal_database' and 'model' instead.")


def single_pipeline(cfg: Section, command: str, background: bool = True) -> Pipeline:
    """The one-database :class:`Pipeline` of such a command (see :func:`one_database_only`)."""
    one_database_only(cfg, command)
    return Pipeline(cfg, background)


def make_pipeline(cfg: Section, background: bool = True, defer_preload: bool = False) -> Pipeline | Pipelines:
    """One :class:`Pipeline`, or :class:`Pipelines` when ``normal_databases`` lists several
    (``defer_preload``: see :class:`Pipeline`)."""
    return (Pipelines(cfg, background, defer_preload) if cfg.normal_databases
            else Pipeline(cfg, background, defer_preload))


class Pipelines:
    """Several normal databases at once (``normal_databases:``), one per tracer.

    One :class:`Pipeline` per database, each with its own model (or none: statistics only).
    Intake runs once against every database's tracer; each accepted series goes to the
    database its tracer matched (:func:`processor.intake.tracer.decide`), a rejected one is
    reported through the first database's pipeline.
    """

    def __init__(self, cfg: Section, background: bool = True, defer_preload: bool = False) -> None:
        self.cfg = cfg
        self.members: list[Pipeline] = []
        self.tracers: list[str] = []
        for entry in database_entries(cfg):
            member = Pipeline(Section({**cfg, "normal_database": entry.path, "model": entry.model,
                                       "normal_databases": []}), background, defer_preload)
            tracer = expected_name(entry.tracer or member.ndb.tracer)
            if tracer is None:
                raise SpectSSPError(ErrorCode.NORMAL_DB_MISMATCH, f"normal database {member.ndb_path.name} does not "
                                    "record its tracer; name it with 'tracer:' in its normal_databases entry.")
            if tracer in self.tracers:
                raise SpectSSPError(ErrorCode.NORMAL_DB_MISMATCH, f"two normal databases are for {tracer}; "
                                    "each tracer may have one database only.")
            member.ndb_info = replace(member.ndb_info, tracer=tracer)
            self.members.append(member)
            self.tracers.append(tracer)
        self.startup_s = self.members[0].startup_s

    @property
    def startup_warnings(self) -> list[str]:
        return [w for m in self.members for w in m.startup_warnings]

    @property
    def on_stage(self) -> StageObserver | None:
        """The stage observer, shared by every database's pipeline (see :attr:`Pipeline.on_stage`)."""
        return self.members[0].on_stage

    @on_stage.setter
    def on_stage(self, observer: StageObserver | None) -> None:
        for m in self.members:
            m.on_stage = observer

    def close(self) -> None:
        for m in self.members:
            m.close()

    def for_series(self, s) -> Pipeline:
        """The pipeline of the database the series' tracer matched (the first when none did)."""
        if s.tracer_match in self.tracers:
            return self.members[self.tracers.index(s.tracer_match)]
        return self.members[0]

    def intake(self, paths: list[Path]):
        """Headers of every file now; each series' pixels as the iteration reaches it."""
        return scan_series(paths, **intake_options(self.cfg.intake), expected_tracer=self.tracers)

    def process_paths(self, paths: list[Path], out_root: Path, progress: bool = False) -> list[dict[str, Any]]:
        """As :meth:`Pipeline.process_paths`, each series against its own database."""
        _tell(self.on_stage, "read")
        series = self.intake(_exclude_outputs(paths, out_root))
        if any(m.preload_pending for m in self.members):   # deferred: each database a header matched starts its loads
            for tracer in series.header_matches():
                self.members[self.tracers.index(tracer) if tracer in self.tracers else 0].start_preload()
        it: Iterable[Any] = _reading(series, self.on_stage)
        if progress and len(series) > 1:
            it = tqdm(it, desc="series", unit="series", total=len(series))
        return [self.for_series(s).process_series(s, out_root, s.read_s) for s in it]
