"""Shared fixtures for intake tests: the tests' synthetic DICOM generator as ``gen``."""
from __future__ import annotations

from types import ModuleType

import pytest

from tests.helpers import dicom


@pytest.fixture(scope="session")
def gen() -> ModuleType:
    return dicom
