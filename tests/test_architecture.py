"""The import contracts (pyproject.toml [tool.importlinter]) hold, and would catch the imports
that tangled the packages before the layers were drawn (issue 16).

Each case copies the four packages' modules to a temporary folder, puts one of those old
imports back and runs ``lint-imports`` there: it must fail and name the contract it breaks.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("processor", "models", "atlas", "spectssp")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONTRACTS = [c["name"] for c in tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
             ["tool"]["importlinter"]["contracts"]]
TOP_LEVEL, RUNTIME, CLASSIFIER, PURE_CORE = CONTRACTS[:4]   # the first four, in pyproject order

# (module that imports, what it imports, the contract that forbids it)
OLD_VIOLATIONS = [
    ("models.evaluate", "processor.pipeline", TOP_LEVEL),
    ("models.inference", "processor.render.sheet", TOP_LEVEL),
    ("models.simulate", "processor.pipeline", TOP_LEVEL),
    ("atlas.normaldb", "processor.config", TOP_LEVEL),
    ("spectssp.core.ssp", "atlas", TOP_LEVEL),
    ("processor.pipeline", "processor.cli.main", RUNTIME),
    ("spectssp.core.zscore", "pydicom", PURE_CORE),
    ("models.simulate", "processor.worldb", TOP_LEVEL),     # training must never see world B
]


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)


def _report(proc: subprocess.CompletedProcess[str]) -> str:
    """lint-imports' output with the console's line wrapping undone."""
    return " ".join((proc.stdout + proc.stderr).split())


def _copy(root: Path) -> Path:
    """The packages' Python modules and pyproject.toml, as lint-imports needs them, under ``root``."""
    keep_py = shutil.ignore_patterns("__pycache__", "*.pyc")

    def ignore(folder: str, names: list[str]) -> set[str]:
        return set(keep_py(folder, names)) | {n for n in names
                                              if not n.endswith(".py") and not (Path(folder) / n).is_dir()}

    for package in PACKAGES:
        shutil.copytree(REPO / package, root / package, ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_contracts_hold_in_the_repository() -> None:
    proc = _lint_imports(REPO)
    assert proc.returncode == 0, _report(proc)
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in _report(proc)


def test_contracts_hold_in_a_clean_copy(tmp_path: Path) -> None:
    """The copy the cases below break is itself clean (so each failure is the added import's)."""
    proc = _lint_imports(_copy(tmp_path))
    assert proc.returncode == 0, _report(proc)
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in _report(proc)


@pytest.mark.parametrize("importer, imported, contract", OLD_VIOLATIONS,
                         ids=[f"{a}->{b}" for a, b, _ in OLD_VIOLATIONS])
def test_an_old_violation_breaks_its_contract(tmp_path: Path, importer: str, imported: str,
                                              contract: str) -> None:
    root = _copy(tmp_path)
    module = root.joinpath(*importer.split(".")).with_suffix(".py")
    with module.open("a", encoding="utf-8") as fh:
        fh.write(f"\nimport {imported}  # noqa: E402  (an import the contracts must refuse)\n")
    proc = _lint_imports(root)
    report = _report(proc)
    assert proc.returncode != 0, report
    assert f"{contract} BROKEN" in report, report
    assert re.search(rf"{re.escape(importer)} -> {re.escape(imported)}\b", report), report
