"""spectssp runtime: intake, registration, 3D-SSP statistics, outputs, daemon.

Research use only - not for diagnosis.
"""
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("spectssp")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+src"

SOFTWARE_NAME = "spectssp"
RESEARCH_BANNER = "RESEARCH USE ONLY - NOT FOR DIAGNOSIS"

__all__ = ["__version__", "SOFTWARE_NAME", "RESEARCH_BANNER"]
