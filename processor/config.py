"""Configuration: one schema with defaults, validated once at load.

Every setting has a default here; a site's YAML file only lists what it changes. Unknown keys,
wrong types and missing files are reported in one sentence naming the key (exit code 2 in the
CLI). The shipped ``config.yaml`` documents every key; a test keeps the two in step.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from spectssp.errors import ConfigError

BUNDLED = "bundled"  # sentinel for the normal database / model shipped with the package


@dataclass(frozen=True)
class Key:
    """One setting: accepted types, default, and a check returning an error sentence or None."""

    types: tuple[type, ...]
    default: Any
    check: Any = None  # callable(value) -> str | None
    nullable: bool = False


def _positive(v: Any) -> str | None:
    return None if v > 0 else "a positive number"


def _non_negative(v: Any) -> str | None:
    return None if v >= 0 else "a number >= 0"


def _fraction(v: Any) -> str | None:
    return None if 0 <= v <= 1 else "a number between 0 and 1"


def _port(v: Any) -> str | None:
    """The receiver's listening port; 0 lets the system pick a free one (tests, ad hoc runs)."""
    return None if 0 <= v <= 65535 else "a TCP port between 0 and 65535 (0: any free port)"


def _remote_port(v: Any) -> str | None:
    """A destination's port: we connect to it, so 0 ("any free port") has no meaning there."""
    return None if 1 <= v <= 65535 else "a TCP port between 1 and 65535"


def _one_of(*choices: str):
    def check(v: Any) -> str | None:
        return None if v in choices else "one of " + ", ".join(repr(c) for c in choices)
    return check


def _subset_of(*choices: str):
    def check(v: Any) -> str | None:
        bad = [x for x in v if x not in choices]
        return None if not bad else "a list drawn from " + ", ".join(choices)
    return check


def _non_empty_subset_of(*choices: str):
    inner = _subset_of(*choices)

    def check(v: Any) -> str | None:
        return inner(v) if v else "a non-empty list drawn from " + ", ".join(choices)
    return check


def _stages(v: Any) -> str | None:
    ok = v and all(isinstance(x, str) for x in v) and v == [s for s in ("rigid", "affine", "syn") if s in v]
    return None if ok else "an ordered, non-empty list drawn from rigid, affine, syn"


def _ae_title(v: Any) -> str | None:
    ok = 0 < len(v.strip()) <= 16 and v.isascii() and v.isprintable() and "\\" not in v
    return None if ok else "an AE title of 1 to 16 ASCII characters"


def _pair_in(lo: float, hi: float):
    def check(v: Any) -> str | None:
        ok = (len(v) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
              and lo <= v[0] <= v[1] <= hi)
        return None if ok else f"a [min, max] pair with {lo} <= min <= max <= {hi}"
    return check


def _token(v: Any) -> str | None:
    ok = len(v) >= 16 and v.isascii() and v.isprintable() and " " not in v
    return None if ok else "a token of at least 16 printable ASCII characters without spaces"


def _password_hash(v: Any) -> str | None:
    """The form ``spectssp serve --hash-password`` prints (checked again, fully, by processor.web.auth)."""
    parts = v.split("$")
    ok = len(parts) == 6 and parts[0] == "scrypt" and all(p.isdigit() for p in parts[1:4])
    return None if ok else "a hash printed by 'spectssp serve --hash-password' (scrypt$N$r$p$salt$hash)"


def _rounds(v: Any) -> str | None:
    return None if 0 <= v <= MAX_TEMPLATE_ROUNDS else f"an integer from 0 (no site template) to {MAX_TEMPLATE_ROUNDS}"


MAX_TEMPLATE_ROUNDS = 10
NUM = (int, float)
# models.networks.ALL, spelled out here so that reading a config never imports torch
NETWORK_NAMES = ("alexnet", "googlenet", "resnet18", "mobilenet_v3_small", "mobilenet_v3_small_os16",
                 "efficientnet_b0", "tiny", "logreg")
REFERENCES = ("GLB", "THL", "PNS", "CBL")
# atlas.render.composite.LAYOUTS, spelled out here so that reading a config never imports PIL
COMPOSITE_LAYOUTS = ("2x2", "2x3")

SCHEMA: dict[str, Any] = {
    "paths": {
        "incoming": Key((str,), "/var/lib/spectssp/incoming"),
        "output": Key((str,), "/var/lib/spectssp/output"),
        "state": Key((str,), "/var/lib/spectssp/state"),
    },
    "scp": {
        "enabled": Key((bool,), False),
        "ae_title": Key((str,), "SPECTSSP", _ae_title),
        "host": Key((str,), "0.0.0.0"),
        "port": Key((int,), 11112, _port),
        "allowed_calling_aets": Key((list,), []),
        "max_pdu": Key((int,), 16384, _non_negative),
    },
    "destinations": Key((list,), []),
    "normal_database": Key((str,), BUNDLED),
    "model": Key((str,), BUNDLED, nullable=True),
    # Several databases at once, one per tracer: [{path, model, tracer}], each study matched to
    # its tracer's; when given it replaces normal_database/model (docs/tracers.md)
    "normal_databases": Key((list,), []),
    "intake": {
        "quiet_period_s": Key(NUM, 10.0, _positive),
        "max_voxels": Key((int,), 64_000_000, _positive),
        "max_file_mb": Key(NUM, 2048, _positive),
        "tracer_policy": Key((str,), "reject", _one_of("reject", "warn")),
        "min_slices": Key((int,), 16, _positive),
        # docs/tracers.md: an unstated tracer is assumed to be the database's; a header that
        # contradicts itself (text IMP, window 140 keV) warns or is rejected, never silently
        "tracer_unstated": Key((str,), "assume", _one_of("assume", "reject")),
        "tracer_conflict": Key((str,), "warn", _one_of("warn", "reject")),
    },
    "registration": {
        "stages": Key((list,), ["rigid", "affine", "syn"], _stages),
        # processor.registration.PROFILES, spelled out here so that reading a config never imports ANTs
        "profile": Key((str,), "spect", _one_of("spect", "reference")),
        "qc_threshold": Key(NUM, 0.85, _fraction),
        "threads": Key((int,), 0, _non_negative),   # 0 = from cores and tasks (spectssp.resources)
        "seed": Key((int,), 1, _non_negative),
        # QC relative to the normal database's members and its site template (docs/registration.md)
        "qc_floor": Key(NUM, 0.65, _fraction),
        "qc_warn_margin": Key(NUM, 0.02, _fraction),
        "qc_reject_margin": Key(NUM, 0.08, _fraction),
        "site_template_rounds": Key((int,), 2, _rounds),
        "site_template_symmetric": Key((bool,), False),
    },
    "ssp": {
        "depth_mm": Key(NUM, 13.5, _positive),
        "z_threshold": Key(NUM, 2.0, _positive),
        "resolution_fwhm_mm": Key(NUM, 16.0, _positive, nullable=True),
    },
    "render": {
        "references": Key((list,), ["GLB", "THL", "CBL", "PNS"], _non_empty_subset_of(*REFERENCES)),
        "z_min": Key(NUM, 0.0, _non_negative),
        "z_max": Key(NUM, 5.0, _positive),
        "increase_sheet": Key((bool,), True),
    },
    "classifier": {
        "indeterminate_below": Key(NUM, 0.5, _fraction),
        "reference": Key((str,), "GLB", _one_of(*REFERENCES)),
        "device": Key((str,), "cpu", _one_of("cpu", "cuda", "auto")),
    },
    "outputs": {
        "series_number_sheet": Key((int,), 9901, _positive),
        "series_number_gradcam": Key((int,), 9902, _positive),
        "series_number_sr": Key((int,), 9903, _positive),
        "png_report": Key((bool,), True),
    },
    "daemon": {
        "workers": Key((int,), 0, _non_negative),  # 0 = from cores and memory
        "max_attempts": Key((int,), 3, _positive),
        "archive_inputs": Key((str,), "archive", _one_of("archive", "delete")),
        "poll_interval_s": Key(NUM, 1.0, _positive),
        "rescan_interval_s": Key(NUM, 60.0, _positive),
        "job_timeout_s": Key(NUM, 3600.0, _positive),
    },
    # Offline `spectssp train` (models/simulate.py and models/train.py document each knob).
    "training": {
        "protocol": Key((str,), "ours", _one_of("ours", "paper")),
        "network": Key((str,), "mobilenet_v3_small_os16", _one_of(*NETWORK_NAMES)),
        "repeats": Key((int,), 5, _positive),
        "epochs": Key((int,), 25, _positive),
        "patience": Key((int,), 5, _positive),
        "batch_size": Key((int,), 32, _positive),
        "learning_rate": Key(NUM, None, _positive, nullable=True),
        "image_size": Key((int,), None, _positive, nullable=True),
        "views": Key((str,), "2x2", _one_of(*COMPOSITE_LAYOUTS)),
        "images_per_class": Key((int,), 369, _positive),
        "validation_per_class": Key((int,), 28, _positive),
        "seed": Key((int,), 2021, _non_negative),
        "device": Key((str,), "auto", _one_of("cpu", "cuda", "auto")),
        "threads": Key((int,), 0, _non_negative),   # 0 = every core this process may use
        "cache_dir": Key((str,), None, nullable=True),
        "inference_references": Key((list,), ["GLB", "THL", "PNS", "CBL"], _subset_of(*REFERENCES)),
        "simulation": {
            "severity": Key((list,), [0.08, 0.35], _pair_in(0.0, 0.95)),
            "edge_fwhm_mm": Key(NUM, 8.0, _non_negative),
            "partial_p": Key(NUM, 0.3, _fraction),
            "asymmetric_p": Key(NUM, 0.3, _fraction),
            "asymmetry": Key((list,), [0.3, 0.8], _pair_in(0.0, 1.0)),
            "region_jitter": Key(NUM, 0.3, _fraction),
            "ad_temporal_p": Key(NUM, 0.5, _fraction),
            "ad_temporal_share": Key((list,), [0.3, 0.6], _pair_in(0.0, 1.0)),
            "ad_early_p": Key(NUM, 0.0, _fraction),
            "dlb_parietal_p": Key(NUM, 0.6, _fraction),
            "dlb_parietal_share": Key((list,), [0.3, 1.0], _pair_in(0.0, 1.0)),
            "dlb_cingulate_share": Key((list,), [0.0, 0.15], _pair_in(0.0, 1.0)),
            "dlb_cingulate_involved_p": Key(NUM, 0.25, _fraction),
            "dlb_cingulate_involved_share": Key((list,), [0.4, 0.9], _pair_in(0.0, 1.0)),
            "dlb_spared_v1_p": Key(NUM, 0.25, _fraction),
            "dlb_v1_share": Key((list,), [0.0, 0.3], _pair_in(0.0, 1.0)),
            "distractor_p": Key(NUM, 0.25, _fraction),
            "distractor_severity": Key((list,), [0.04, 0.12], _pair_in(0.0, 0.95)),
            "blur_fwhm_mm": Key((list,), [0.0, 8.0], _pair_in(0.0, 30.0)),
            "noise_sd": Key((list,), [0.0, 0.04], _pair_in(0.0, 0.5)),
            "noise_fwhm_mm": Key(NUM, 8.0, _positive),
            "edge_at_database_resolution": Key((bool,), True),
            "variation_sd": Key((list,), [0.0, 0.05], _pair_in(0.0, 0.5)),
            "variation_fwhm_mm": Key(NUM, 24.0, _positive),
            "edge_fwhm_extra_mm": Key((list,), [0.0, 8.0], _pair_in(0.0, 30.0)),
            "region_warp_mm": Key((list,), [0.0, 5.0], _pair_in(0.0, 15.0)),
            "lesion_texture_sd": Key((list,), [0.0, 0.4], _pair_in(0.0, 1.0)),
            "regional_ratio_sd": Key((list,), [0.0, 0.04], _pair_in(0.0, 0.3)),
            "pattern_shift_sd": Key((list,), [0.0, 0.0], _pair_in(0.0, 0.3)),
            "misregistration_mm": Key(NUM, 2.0, _non_negative),
            "misregistration_deg": Key(NUM, 2.0, _non_negative),
            "misregistration_scale": Key(NUM, 0.02, _fraction),
        },
    },
    "delivery": {
        "retry_initial_s": Key(NUM, 5.0, _positive),
        "retry_max_s": Key(NUM, 600.0, _positive),
        "max_attempts": Key((int,), 0, _non_negative),  # 0 = retry forever
        "timeout_s": Key(NUM, 30.0, _positive),
    },
    # The status page (processor/web): served by `spectssp watch` when enabled, or `spectssp serve`.
    "web": {
        "enabled": Key((bool,), False),
        "host": Key((str,), "127.0.0.1"),
        "port": Key((int,), 8080, _port),
        "token": Key((str,), None, _token, nullable=True),
        "user": Key((str,), None, nullable=True),
        "password_hash": Key((str,), None, _password_hash, nullable=True),
        "show_patient_identifiers": Key((bool,), False),
        "refresh_s": Key(NUM, 10.0, _positive),
    },
    # Field-of-view coverage, checked on the atlas grid after registration (atlas/coverage.py).
    "coverage": {
        "enabled": Key((bool,), True),
        "max_outside": Key(NUM, 0.25, _fraction),
        "warn_outside": Key(NUM, 0.02, _fraction),
    },
    "batch": {
        "workers": Key((int,), 0, _non_negative),  # 0 = from cores and memory (spectssp.resources)
    },
}


class Section(dict):
    """A validated config section with attribute access (``cfg.ssp.depth_mm``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as exc:  # programming error, not user input
            raise AttributeError(name) from exc


def defaults() -> Section:
    return _build(SCHEMA, {}, "", base_dir=Path.cwd())


def load_config(path: str | os.PathLike[str] | None = None) -> Section:
    """Load and validate ``path`` over the defaults; relative paths resolve beside the file."""
    if path is None:
        return defaults()
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist or is not a file.")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" (line {line + 1})" if line is not None else ""
        raise ConfigError(f"config file {str(p)!r} is not valid YAML{where}.") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(p)!r} must be a mapping of settings at the top level.")
    return _build(SCHEMA, data, "", base_dir=p.resolve().parent)


def from_dict(data: dict[str, Any], base_dir: Path | None = None) -> Section:
    """Validate an in-memory mapping (tests, programmatic use)."""
    return _build(SCHEMA, copy.deepcopy(data), "", base_dir=base_dir or Path.cwd())


# Settings that never change a result: where things live, how work is scheduled and delivered,
# and training. The database and model are hashed by content instead of by path
# (:class:`processor.result.Hashes`); threads change registrations only at the bit level.
NOT_IN_RESULT = ("paths", "scp", "destinations", "daemon", "training", "delivery", "batch", "web",
                 "normal_database", "normal_databases", "model", "registration.threads", "classifier.device",
                 # these shape the database at `normaldb build`; its own hash is in result.json
                 "registration.site_template_rounds", "registration.site_template_symmetric")


def processing_sha256(cfg: Section) -> str:
    """sha256 of every setting that shapes a result (all but ``NOT_IN_RESULT``), key-order free."""
    plain = json.loads(json.dumps(cfg, default=str))
    for dotted in NOT_IN_RESULT:
        *parents, key = dotted.split(".")
        node = plain
        for name in parents:
            node = node.get(name, {})
        node.pop(key, None)
    return hashlib.sha256(json.dumps(plain, sort_keys=True).encode("utf-8")).hexdigest()


def with_threads(cfg: Section, threads: int) -> Section:
    """A copy of ``cfg`` whose tasks run on ``threads`` threads each (registration and torch):
    what a caller that runs several tasks at once hands its workers (:mod:`spectssp.resources`)."""
    out = copy.deepcopy(cfg)
    out.registration["threads"] = int(threads)
    return out


def _type_name(types: tuple[type, ...]) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
             list: "a list", dict: "a mapping"}
    if types == NUM:
        return "a number"
    return " or ".join(names.get(t, t.__name__) for t in types)


def _build(schema: dict[str, Any], data: dict[str, Any], prefix: str, base_dir: Path) -> Section:
    unknown = sorted(set(data) - set(schema))
    if unknown:
        known = ", ".join(sorted(schema))
        raise ConfigError(f"unknown setting {prefix + unknown[0]!r}; known settings here: {known}.")
    out = Section()
    for name, spec in schema.items():
        dotted = prefix + name
        if isinstance(spec, dict):
            sub = data.get(name, {})
            if sub is None:
                sub = {}
            if not isinstance(sub, dict):
                raise ConfigError(f"setting {dotted!r} must be a mapping of settings.")
            out[name] = _build(spec, sub, dotted + ".", base_dir)
            continue
        value = data.get(name, copy.deepcopy(spec.default))
        out[name] = _check_value(dotted, spec, value)
    _check_cross(out, prefix, base_dir)
    return out


def _check_value(dotted: str, spec: Key, value: Any) -> Any:
    if value is None:
        if spec.nullable:
            return None
        raise ConfigError(f"setting {dotted!r} must be {_type_name(spec.types)}, not empty.")
    ok = isinstance(value, spec.types) and not (isinstance(value, bool) and bool not in spec.types)
    if not ok:
        raise ConfigError(
            f"setting {dotted!r} must be {_type_name(spec.types)}, got {type(value).__name__} {value!r}.")
    if spec.check is not None:
        expected = spec.check(value)
        if expected:
            raise ConfigError(f"setting {dotted!r} must be {expected}, got {value!r}.")
    return value


def _check_cross(out: Section, prefix: str, base_dir: Path) -> None:
    if prefix:
        return
    for key in ("normal_database", "model"):
        value = out[key]
        if value in (None, BUNDLED):
            continue
        if not value.strip():
            raise ConfigError(f"setting {key!r} must name a file, or be {BUNDLED!r}.")
        p = Path(value)
        if not p.is_absolute():
            p = (base_dir / p).resolve()
        if not p.exists():
            raise ConfigError(f"setting {key!r} points to {str(p)!r}, which does not exist.")
        if key == "normal_database" and not p.is_file():
            raise ConfigError(f"setting 'normal_database' must be a file written by 'spectssp normaldb build', "
                              f"but {str(p)!r} is a folder.")
        if key == "model" and not p.is_dir():
            raise ConfigError(f"setting 'model' must be a folder written by 'spectssp train', but {str(p)!r} is not.")
        out[key] = str(p)
    out["normal_databases"] = _database_list(out.normal_databases, base_dir)
    for key in ("incoming", "output", "state"):
        p = Path(out.paths[key])
        out.paths[key] = str(p if p.is_absolute() else (base_dir / p).resolve())
    dests = []
    for i, d in enumerate(out.destinations):
        where = f"destinations[{i}]"
        if not isinstance(d, dict) or set(d) - {"name", "ae_title", "host", "port"} or not {"ae_title", "host", "port"} <= set(d):
            raise ConfigError(f"setting {where!r} must be a mapping with ae_title, host, port (and optional name).")
        if isinstance(d["port"], bool) or not isinstance(d["port"], int) or _remote_port(d["port"]):
            raise ConfigError(f"setting {where + '.port'!r} must be {_remote_port(0)}.")
        if not isinstance(d["ae_title"], str) or _ae_title(d["ae_title"]):
            raise ConfigError(f"setting {where + '.ae_title'!r} must be an AE title of 1 to 16 ASCII characters.")
        if not isinstance(d["host"], str) or not d["host"].strip():
            raise ConfigError(f"setting {where + '.host'!r} must be a host name or IP address.")
        dests.append(Section(name=str(d.get("name", d["ae_title"])), ae_title=d["ae_title"],
                             host=str(d["host"]), port=d["port"]))
    out["destinations"] = dests
    for aet in out.scp.allowed_calling_aets:
        if not isinstance(aet, str) or _ae_title(aet):
            raise ConfigError("setting 'scp.allowed_calling_aets' must list AE titles of 1 to 16 ASCII characters.")
    if out.render.z_min >= out.render.z_max:
        raise ConfigError("setting 'render.z_min' must be below 'render.z_max'.")
    if (out.web.user is None) != (out.web.password_hash is None):
        raise ConfigError("settings 'web.user' and 'web.password_hash' go together: set both, or neither.")
    if out.web.user is not None and (not out.web.user.strip() or ":" in out.web.user):
        raise ConfigError("setting 'web.user' must be a non-empty user name without ':'.")
    if out.registration.qc_warn_margin > out.registration.qc_reject_margin:
        raise ConfigError("setting 'registration.qc_warn_margin' must not exceed 'registration.qc_reject_margin' "
                          "(a study is flagged before it is rejected).")


def _resolved(value: str, where: str, base_dir: Path, want_file: bool) -> str:
    """A ``bundled`` sentinel, or an existing file (database) / folder (model) made absolute."""
    if value == BUNDLED:
        return value
    p = Path(value) if Path(value).is_absolute() else (base_dir / value).resolve()
    if not p.exists():
        raise ConfigError(f"setting {where!r} points to {str(p)!r}, which does not exist.")
    if want_file and not p.is_file():
        raise ConfigError(f"setting {where!r} must be a file written by 'spectssp normaldb build', but {str(p)!r} is not.")
    if not want_file and not p.is_dir():
        raise ConfigError(f"setting {where!r} must be a folder written by 'spectssp train', but {str(p)!r} is not.")
    return str(p)


def _database_list(entries: list, base_dir: Path) -> list[Section]:
    """``normal_databases:`` entries checked: path (file or bundled), model (folder, bundled or
    null: statistics only), tracer (optional; else the database's own)."""
    out = []
    for i, e in enumerate(entries):
        where = f"normal_databases[{i}]"
        if not isinstance(e, dict) or set(e) - {"path", "model", "tracer"} or "path" not in e:
            raise ConfigError(f"setting {where!r} must be a mapping with path (and optional model, tracer).")
        if not isinstance(e["path"], str) or not e["path"].strip():
            raise ConfigError(f"setting {where + '.path'!r} must name a database file, or be {BUNDLED!r}.")
        model = e.get("model", None)
        if model is not None and (not isinstance(model, str) or not model.strip()):
            raise ConfigError(f"setting {where + '.model'!r} must name a model folder, {BUNDLED!r} or null.")
        tracer = e.get("tracer", None)
        if tracer is not None and (not isinstance(tracer, str) or not tracer.strip()):
            raise ConfigError(f"setting {where + '.tracer'!r} must be a tracer name such as IMP or ECD.")
        out.append(Section(path=_resolved(e["path"], where + ".path", base_dir, True),
                           model=None if model is None else _resolved(model, where + ".model", base_dir, False),
                           tracer=tracer))
    return out


def database_entries(cfg: Section) -> list[Section]:
    """The configured normal databases as ``[{path, model, tracer}]``: ``normal_databases`` when
    given, else the one-database form ``normal_database``/``model`` (tracer from the file)."""
    if cfg.normal_databases:
        return list(cfg.normal_databases)
    return [Section(path=cfg.normal_database, model=cfg.model, tracer=None)]
