"""Shared fixtures for intake tests: the synthetic DICOM writer as ``gen``.

Tests run with ``--import-mode=importlib``, where sibling modules are not importable by name,
so the helper module is loaded from its file here once.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_NAME = "spectssp_tests_intake_dicomgen"


def _load_gen():
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    spec = importlib.util.spec_from_file_location(_NAME, Path(__file__).with_name("dicomgen.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module  # dataclasses need the module registered while executing
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def gen():
    return _load_gen()
