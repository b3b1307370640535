"""Fixtures for DICOM output tests: dciodvfy as a checker."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Callable

import pytest

from tests.helpers.tools import require_tool


@pytest.fixture
def dciodvfy() -> Callable[[Path], list[str]]:
    """Run dciodvfy on a file; return its Error lines (and fail on a crash)."""
    tool = require_tool("/usr/bin/dciodvfy")

    def run(path: Path) -> list[str]:
        proc = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
        out = proc.stdout + proc.stderr
        assert out.strip(), "dciodvfy printed nothing"
        return [line for line in out.splitlines() if line.startswith("Error")]

    return run
