"""Locate external tools for integration tests: skip when absent locally, fail in CI."""
from __future__ import annotations

import os
import shutil

import pytest


def require_tool(path_or_name: str) -> str:
    """Return the tool's path; skip the test if it is missing, unless CI=true (then fail)."""
    found = path_or_name if os.path.isabs(path_or_name) and os.access(path_or_name, os.X_OK) \
        else shutil.which(path_or_name)
    if found:
        return found
    message = f"{path_or_name} is not installed (apt-get install dcmtk dicom3tools orthanc)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI must have every tool")
    pytest.skip(message)
