"""processor.config: defaults, the shipped config.yaml, validation errors, CLI exit code 2."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from processor.config import BUNDLED, SCHEMA, Key, defaults, from_dict, load_config
from spectssp.errors import ConfigError, ErrorCode

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "config.yaml"
SPECTSSP = REPO / ".venv" / "bin" / "spectssp"


def _flat_schema(schema: dict, prefix: str = "") -> dict[str, Key]:
    out: dict[str, Key] = {}
    for name, spec in schema.items():
        if isinstance(spec, dict):
            out.update(_flat_schema(spec, prefix + name + "."))
        else:
            out[prefix + name] = spec
    return out


def _flat_data(data: dict, schema: dict, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, value in data.items():
        if isinstance(schema.get(name), dict) and isinstance(value, dict):
            keys |= _flat_data(value, schema[name], prefix + name + ".")
        else:
            keys.add(prefix + name)
    return keys


def _get(cfg, dotted: str):
    for part in dotted.split("."):
        cfg = cfg[part]
    return cfg


def _write(tmp_path: Path, text: str, name: str = "site.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# --- defaults and the shipped file -------------------------------------------------------------

def test_defaults_cover_every_key_with_its_default():
    cfg = defaults()
    for dotted, spec in _flat_schema(SCHEMA).items():
        value = _get(cfg, dotted)
        if dotted.startswith("paths."):
            assert value == str(Path(spec.default).resolve())
        else:
            assert value == spec.default, dotted
    assert cfg.ssp.depth_mm == 13.5 and cfg.render.z_min == 0.0 and cfg.render.z_max == 5.0
    assert cfg.normal_database == BUNDLED
    assert load_config(None) == cfg


def test_shipped_config_loads_and_equals_defaults():
    assert load_config(SHIPPED) == defaults()


def test_shipped_config_documents_exactly_the_schema_keys():
    data = yaml.safe_load(SHIPPED.read_text())
    documented = _flat_data(data, SCHEMA)
    expected = set(_flat_schema(SCHEMA))
    assert documented - expected == set(), "in config.yaml but not in SCHEMA"
    assert expected - documented == set(), "in SCHEMA but not in config.yaml"


def _undocumented_keys(text: str) -> list[str]:
    """Keys with no comment: none on their line, none directly above, none on their section line."""
    lines = text.splitlines()
    key_re = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*):(.*)$")
    section_commented = False
    undocumented = []
    for i, line in enumerate(lines):
        m = key_re.match(line)
        if not m:
            continue
        indent, name, rest = len(m.group(1)), m.group(2), m.group(3)
        commented = "#" in rest or (i > 0 and lines[i - 1].lstrip().startswith("#"))
        if indent == 0:
            section_commented = commented
            if rest.strip() == "" or rest.strip().startswith("#"):  # a section line
                continue
        elif section_commented:
            commented = True
        if not commented:
            undocumented.append(name)
    return undocumented


def test_every_key_line_of_shipped_config_is_commented():
    assert _undocumented_keys(SHIPPED.read_text()) == []


# --- validation errors --------------------------------------------------------------------------

BAD = {
    "unknown top-level key": ("colour: red\n", "colour"),
    "unknown nested key": ("ssp:\n  depthmm: 10\n", "ssp.depthmm"),
    "string for a number": ("ssp:\n  depth_mm: deep\n", "ssp.depth_mm"),
    "float for an int": ("scp:\n  port: 11112.5\n", "scp.port"),
    "bool for an int": ("scp:\n  port: true\n", "scp.port"),
    "bool for a number": ("ssp:\n  depth_mm: yes\n", "ssp.depth_mm"),
    "string for a bool": ("scp:\n  enabled: maybe\n", "scp.enabled"),
    "empty value": ("ssp:\n  depth_mm:\n", "ssp.depth_mm"),
    "section not a mapping": ("ssp: 13.5\n", "ssp"),
    "list not a list": ("registration:\n  stages: rigid\n", "registration.stages"),
    "unknown stage": ("registration:\n  stages: [rigid, bspline]\n", "registration.stages"),
    "negative depth": ("ssp:\n  depth_mm: -1\n", "ssp.depth_mm"),
    "qc above 1": ("registration:\n  qc_threshold: 1.5\n", "registration.qc_threshold"),
    "unknown registration profile": ("registration:\n  profile: fastest\n", "registration.profile"),
    "qc floor above 1": ("registration:\n  qc_floor: 2\n", "registration.qc_floor"),
    "negative warn margin": ("registration:\n  qc_warn_margin: -0.1\n", "registration.qc_warn_margin"),
    "warn margin above reject margin": ("registration:\n  qc_warn_margin: 0.1\n  qc_reject_margin: 0.05\n",
                                        "registration.qc_warn_margin"),
    "too many template rounds": ("registration:\n  site_template_rounds: 11\n", "registration.site_template_rounds"),
    "negative template rounds": ("registration:\n  site_template_rounds: -1\n", "registration.site_template_rounds"),
    "template rounds not an int": ("registration:\n  site_template_rounds: 1.5\n",
                                   "registration.site_template_rounds"),
    "symmetric not a bool": ("registration:\n  site_template_symmetric: maybe\n",
                             "registration.site_template_symmetric"),
    "bad choice": ("intake:\n  tracer_policy: ignore\n", "intake.tracer_policy"),
    "unknown reference": ("render:\n  references: [GLB, XYZ]\n", "render.references"),
    "AE title too long": ("scp:\n  ae_title: THIS_AE_TITLE_IS_TOO_LONG\n", "scp.ae_title"),
    "AE title blank": ("scp:\n  ae_title: '   '\n", "scp.ae_title"),
    "AE title backslash": ("scp:\n  ae_title: 'A\\B'\n", "scp.ae_title"),
    "AE title non-ASCII": ("scp:\n  ae_title: SPÉCT\n", "scp.ae_title"),
    "allowed AE bad": ("scp:\n  allowed_calling_aets: [OK, THIS_AE_TITLE_IS_TOO_LONG]\n",
                       "scp.allowed_calling_aets"),
    "port too large": ("scp:\n  port: 70000\n", "scp.port"),
    "port negative": ("scp:\n  port: -1\n", "scp.port"),
    "destinations not a list": ("destinations: {ae_title: X, host: h, port: 1}\n", "destinations"),
    "destination missing host": ("destinations:\n  - {ae_title: PACS, port: 4242}\n", "destinations[0]"),
    "destination not a mapping": ("destinations:\n  - PACS@host:4242\n", "destinations[0]"),
    "destination unknown field": ("destinations:\n  - {ae_title: PACS, host: h, port: 4242, tls: true}\n",
                                  "destinations[0]"),
    "destination bad port": ("destinations:\n  - {ae_title: PACS, host: h, port: 99999}\n",
                              "destinations[0].port"),
    "destination port string": ("destinations:\n  - {ae_title: PACS, host: h, port: '4242'}\n",
                                "destinations[0].port"),
    "destination bool port": ("destinations:\n  - {ae_title: PACS, host: h, port: true}\n",
                              "destinations[0].port"),
    "destination bad AE": ("destinations:\n  - {ae_title: THIS_AE_TITLE_IS_TOO_LONG, host: h, port: 4242}\n",
                           "destinations[0].ae_title"),
    "second destination bad": ("destinations:\n  - {ae_title: A, host: h, port: 1}\n"
                               "  - {ae_title: B, host: h, port: -5}\n", "destinations[1].port"),
    "destination host null": ("destinations:\n  - {ae_title: PACS, host: null, port: 4242}\n",
                              "destinations[0]"),
    "destination host empty": ("destinations:\n  - {ae_title: PACS, host: '', port: 4242}\n",
                               "destinations[0]"),
    "missing normal database": ("normal_database: does-not-exist.ndb\n", "normal_database"),
    "normal database empty string": ("normal_database: ''\n", "normal_database"),
    "normal database is a directory": ("normal_database: .\n", "normal_database"),
    "missing model": ("model: no-such-model/\n", "model"),
    "null normal database": ("normal_database: null\n", "normal_database"),
    "z_min equal z_max": ("render:\n  z_min: 3\n  z_max: 3\n", "render.z_min"),
    "z_min above z_max": ("render:\n  z_min: 6\n  z_max: 5\n", "render.z_min"),
    "unknown composite layout": ("training:\n  views: 3x3\n", "training.views"),
}


def test_composite_layouts_spelled_out_match_the_renderer():
    from atlas.render.composite import LAYOUTS
    from processor.config import COMPOSITE_LAYOUTS
    assert tuple(COMPOSITE_LAYOUTS) == tuple(LAYOUTS)


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_setting_gives_config_error_naming_the_key(tmp_path, case):
    text, key = BAD[case]
    with pytest.raises(ConfigError) as exc:
        load_config(_write(tmp_path, text))
    err = exc.value
    assert err.code == ErrorCode.CONFIG_INVALID
    # the key itself, or one of its fields (destinations[0] -> 'destinations[0].host')
    assert re.search(rf"'{re.escape(key)}(\.[a-z_]+)?'", err.message), err.message
    assert "\n" not in err.message and err.message.endswith(".")


def test_port_messages_say_what_the_checks_accept(tmp_path):
    """The receiver may listen on 0 (a free port, as its message says); a destination needs 1-65535."""
    assert load_config(_write(tmp_path, "scp:\n  port: 0\n")).scp.port == 0
    with pytest.raises(ConfigError) as exc:
        load_config(_write(tmp_path, "scp:\n  port: 65536\n"))
    assert "between 0 and 65535 (0: any free port)" in exc.value.message
    with pytest.raises(ConfigError) as exc:
        load_config(_write(tmp_path, "destinations:\n  - {ae_title: PACS, host: h, port: 0}\n"))
    assert "'destinations[0].port'" in exc.value.message and "between 1 and 65535" in exc.value.message


@pytest.mark.parametrize("text", ["ssp: [unclosed\n", "paths:\n  incoming: a\n output: b\n", "a: b: c\n",
                                  "\tssp: 1\n"])
def test_invalid_yaml_gives_config_error_naming_the_file(tmp_path, text):
    p = _write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert "YAML" in exc.value.message and str(p) in exc.value.message
    assert "\n" not in exc.value.message


def test_top_level_not_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="mapping"):
        load_config(_write(tmp_path, "- a\n- b\n"))


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_not_utf8_config_file(tmp_path):
    p = tmp_path / "latin1.yaml"
    p.write_bytes("scp:\n  ae_title: SP\xc9CT\n".encode("latin-1"))
    with pytest.raises(ConfigError):
        load_config(p)


def test_empty_file_is_all_defaults(tmp_path):
    assert load_config(_write(tmp_path, "# nothing here\n")) == defaults()


def test_partial_file_changes_only_its_keys(tmp_path):
    cfg = load_config(_write(tmp_path, "ssp:\n  depth_mm: 10\nrender:\n  z_max: 7\n"))
    assert cfg.ssp.depth_mm == 10 and cfg.ssp.z_threshold == 2.0
    assert cfg.render.z_max == 7 and cfg.render.z_min == 0.0
    assert cfg.scp.port == 11112


def test_int_accepted_where_a_number_is_expected():
    cfg = from_dict({"ssp": {"depth_mm": 12}, "render": {"z_min": 1, "z_max": 7}})
    assert cfg.ssp.depth_mm == 12 and cfg.render.z_min == 1


def test_relative_paths_resolve_beside_the_config_file(tmp_path):
    sub = tmp_path / "site"
    sub.mkdir()
    (sub / "site.ndb").write_bytes(b"x")
    (sub / "model").mkdir()
    p = _write(sub, "normal_database: site.ndb\nmodel: model\npaths:\n  output: out\n")
    cfg = load_config(p)
    assert cfg.normal_database == str((sub / "site.ndb").resolve())
    assert cfg.model == str((sub / "model").resolve())
    assert cfg.paths.output == str((sub / "out").resolve())


def test_model_may_be_null_for_statistics_only(tmp_path):
    assert load_config(_write(tmp_path, "model: null\n")).model is None


def test_destinations_are_normalised(tmp_path):
    p = _write(tmp_path, "destinations:\n  - {name: pacs, ae_title: ORTHANC, host: 127.0.0.1, port: 4242}\n"
                         "  - {ae_title: OTHER, host: pacs.local, port: 104}\n")
    d = load_config(p).destinations
    assert [x.name for x in d] == ["pacs", "OTHER"]
    assert d[0].ae_title == "ORTHANC" and d[0].host == "127.0.0.1" and d[0].port == 4242


def test_from_dict_does_not_modify_its_input():
    data = {"destinations": [{"ae_title": "A", "host": "h", "port": 1}]}
    from_dict(data)
    assert data == {"destinations": [{"ae_title": "A", "host": "h", "port": 1}]}


# --- the CLI -----------------------------------------------------------------------------------

def test_cli_bad_config_exits_2_with_one_line(tmp_path):
    bad = _write(tmp_path, "scp:\n  port: seventy\n", "bad.yaml")
    proc = subprocess.run([str(SPECTSSP), "process", str(tmp_path / "x"), "--out", str(tmp_path / "y"),
                           "--config", str(bad)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1, proc.stderr
    assert err[0].startswith("spectssp: error [config_invalid] ")
    assert "'scp.port'" in err[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "y").exists()


def test_cli_invalid_yaml_exits_2(tmp_path):
    bad = _write(tmp_path, "ssp: [unclosed\n", "bad.yaml")
    proc = subprocess.run([str(SPECTSSP), "process", str(tmp_path), "--out", str(tmp_path / "y"),
                           "--config", str(bad)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "[config_invalid]" in proc.stderr and "Traceback" not in proc.stderr


def test_registration_profiles_in_config_match_the_registration_module():
    """The config lists the profile names without importing ANTs; they must stay in step."""
    from processor.config import SCHEMA
    from processor.registration import DEFAULT_PROFILE, PROFILES
    assert SCHEMA["registration"]["profile"].default == DEFAULT_PROFILE
    for name in PROFILES:
        assert SCHEMA["registration"]["profile"].check(name) is None
    assert SCHEMA["registration"]["profile"].check("fastest") is not None


def test_normal_databases_list_is_checked_and_resolved(tmp_path):
    from processor.config import database_entries
    (tmp_path / "ecd.ndb").write_bytes(b"x")
    (tmp_path / "ecd-model").mkdir()
    cfg = load_config(_write(tmp_path, "normal_databases:\n  - {path: bundled, model: bundled}\n"
                                       "  - {path: ecd.ndb, model: ecd-model, tracer: ECD}\n"
                                       "  - {path: ecd.ndb, model: null}\n"))
    assert [dict(e) for e in database_entries(cfg)] == [
        {"path": "bundled", "model": "bundled", "tracer": None},
        {"path": str(tmp_path / "ecd.ndb"), "model": str(tmp_path / "ecd-model"), "tracer": "ECD"},
        {"path": str(tmp_path / "ecd.ndb"), "model": None, "tracer": None}]
    assert [dict(e) for e in database_entries(load_config(None))] == [{"path": "bundled", "model": "bundled",
                                                                        "tracer": None}]
    for bad, where in (("- ecd.ndb", "normal_databases[0]"), ("- {model: null}", "normal_databases[0]"),
                       ("- {path: nope.ndb}", "normal_databases[0].path"),
                       ("- {path: ecd.ndb, model: nope}", "normal_databases[0].model"),
                       ("- {path: ecd.ndb, colour: red}", "normal_databases[0]")):
        with pytest.raises(ConfigError, match=re.escape(repr(where))):
            load_config(_write(tmp_path, f"normal_databases:\n  {bad}\n"))
