"""The generic import names resolve to this checkout, and the console script is installed."""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ["atlas", "models", "processor", "spectssp"]


@pytest.mark.parametrize("name", PACKAGES)
def test_package_resolves_to_this_repository(name):
    mod = importlib.import_module(name)
    path = Path(mod.__file__).resolve()
    assert path == REPO / name / "__init__.py"


def test_packages_resolve_to_this_repository_outside_the_checkout():
    # from another working directory (as the installed console script runs) the editable
    # install must still point here, not to some other 'atlas' or 'models' distribution
    code = ("import json, atlas, models, processor, spectssp\n"
            "print(json.dumps([m.__file__ for m in (atlas, models, processor, spectssp)]))\n")
    venv_python = REPO / ".venv" / "bin" / "python"
    proc = subprocess.run([str(venv_python), "-I", "-c", code], capture_output=True, text=True, timeout=60,
                          cwd="/")
    assert proc.returncode == 0, proc.stderr
    files = [Path(f).resolve() for f in json.loads(proc.stdout.strip().splitlines()[-1])]
    assert files == [REPO / n / "__init__.py" for n in PACKAGES]


def test_console_script_exists_and_points_to_the_cli():
    script = REPO / ".venv" / "bin" / "spectssp"
    assert script.is_file()
    assert os.access(script, os.X_OK)
    assert "processor.cli.main" in script.read_text()


def test_atlas_data_ships_with_the_package():
    import atlas
    data = Path(atlas.__file__).parent / "data"
    for f in ("atlas.npz", "atlas.json", "PROVENANCE.md"):
        assert (data / f).is_file(), f
