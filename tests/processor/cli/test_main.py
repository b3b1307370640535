"""The ``spectssp`` entry point: help texts, light imports, one-line errors."""
from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from processor.cli.main import build_parser, main
from processor.cli.parsers import COMMANDS as PARSERS

REPO = Path(__file__).resolve().parents[3]
SPECTSSP = REPO / ".venv" / "bin" / "spectssp"


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.append(prefix + (name,))
                out.extend(_commands(sub, prefix + (name,)))
    return out


COMMANDS = _commands(build_parser())


def test_parser_has_the_core_commands():
    top = {c[0] for c in COMMANDS}
    assert {"process", "normaldb"} <= top
    assert ("normaldb", "build") in COMMANDS


def test_top_level_help_via_console_script():
    t0 = time.monotonic()
    proc = subprocess.run([str(SPECTSSP), "--help"], capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: spectssp")
    for cmd in {c[0] for c in COMMANDS}:
        assert cmd in proc.stdout
    assert "RESEARCH USE ONLY" in proc.stdout
    assert elapsed < 10  # generous on a shared machine; --help must not load torch or ants


@pytest.mark.parametrize("cmd", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_subcommand_help_exits_0_and_shows_usage(cmd, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*cmd, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: spectssp " + " ".join(cmd))
    assert len(out.splitlines()) > 3


def _leaves(parser: argparse.ArgumentParser, name: str = "") -> list[tuple[str, argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [(name, parser)]
    return [leaf for a in subs for n, p in a.choices.items() for leaf in _leaves(p, name or n)]


def test_every_command_has_its_parser_and_its_module():
    """main imports the module of a command when it runs (``processor.cli.<command>`` or the one
    its parser names): it must exist for each command and action."""
    assert [c[0] for c in COMMANDS if len(c) == 1] == list(PARSERS)
    leaves = _leaves(build_parser())
    assert len(leaves) == len(PARSERS) + 1  # normaldb has two actions
    for top, parser in leaves:
        module = f"processor.cli.{parser.get_default('command_module') or top}"
        assert importlib.util.find_spec(module) is not None, module


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: spectssp" in capsys.readouterr().out


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("spectssp ")


def test_building_the_parser_imports_no_heavy_library():
    # None of these is needed for --help; together they cost seconds (docs/architecture.md, Imports).
    banned = ["torch", "torchvision", "pytorch_grad_cam", "ants", "SimpleITK", "pydicom", "highdicom",
              "pynetdicom", "matplotlib", "sklearn", "pandas", "nilearn", "nibabel", "scipy", "numpy", "PIL",
              "watchdog", "tqdm"]
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(REPO)!r})  # this checkout, wherever the editable install points\n"
        "from processor.cli.main import build_parser\n"
        "build_parser()\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {banned!r})))\n"
    )
    proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60,
                          cwd="/")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_process_missing_input_is_one_line_without_traceback(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([str(SPECTSSP), "process", "/nonexistent/study", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "[input_not_found]" in proc.stderr
    assert "/nonexistent/study" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    err_lines = [l for l in proc.stderr.splitlines() if l.startswith("spectssp: error")]
    assert len(err_lines) == 1


def test_watch_workers_below_one_is_a_coded_config_error(tmp_path, capsys):
    cfg = tmp_path / "site.yaml"
    cfg.write_text(f"paths: {{incoming: {tmp_path / 'in'}, output: {tmp_path / 'out'}, state: {tmp_path / 'state'}}}\n")
    assert main(["watch", "--config", str(cfg), "--workers", "0", "--log-dir", str(tmp_path / "logs")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == \
        "spectssp: error [config_invalid] --workers must be at least 1."


def test_missing_required_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["process", "somewhere"])
    assert exc.value.code == 2
    assert "--out" in capsys.readouterr().err


def test_every_leaf_command_describes_itself_and_its_arguments():
    """`spectssp X [ACTION] --help` teaches: a description, and a help line for every argument
    (a bare metavar such as INPUT tells a user nothing)."""
    for name, parser in _leaves(build_parser()):
        assert parser.description, name
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help, f"{name}: {action.dest}"
