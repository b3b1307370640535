"""Shared test helpers (external tools, Orthanc); imported as ``tests.helpers``."""
