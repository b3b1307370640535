"""What a normal database's Z maps depend on, checked against the configuration at start-up.

A database records, when it is built, the settings its members were measured with: atlas
hash, SSP depth, harmonised resolution (checked in :class:`processor.pipeline.Pipeline`
since they were first recorded), the registration stages and the software version (checked
here). Studies measured any other way are compared with normals measured differently, so a
difference stops ``process``, ``watch`` and ``evaluate`` before any study, with a sentence
naming the setting and both values.

Databases built before a setting was recorded (the bundled phantom database records no
registration stages) cannot be checked for it: that is logged once at start-up as a warning
("not recorded, not checked"), not guessed, and not written into every result.
"""
from __future__ import annotations

import logging
import re

from atlas.normaldb import NormalDatabase
from processor.config import Section
from spectssp import __version__
from spectssp.errors import ErrorCode, SpectSSPError

log = logging.getLogger(__name__)


def check_provenance(ndb: NormalDatabase, cfg: Section, name: str, running: str = __version__) -> list[str]:
    """Raise ``NORMAL_DB_MISMATCH`` when the registration stages or the software version the
    database ``name`` was built with do not fit the configuration and this software; the
    settings it does not record, as log lines (also returned)."""
    unknown = []
    stages = ndb.registration_stages
    if stages is None:
        unknown.append("registration stages")
    elif stages != list(cfg.registration.stages):
        raise SpectSSPError(ErrorCode.NORMAL_DB_MISMATCH, f"normal database {name} was built with registration "
                            f"stages {' -> '.join(stages)} but registration.stages is "
                            f"{' -> '.join(cfg.registration.stages)}; they must match: set registration.stages to "
                            "the database's or rebuild the database with 'spectssp normaldb build'.")
    built = _version_of(ndb.meta.get("software"))
    if built is None:
        unknown.append("software version")
    elif not compatible(built, running):
        raise SpectSSPError(ErrorCode.NORMAL_DB_MISMATCH, f"normal database {name} was built with spectssp {built}, "
                            f"whose 3D-SSP values are not comparable with this spectssp {running}; rebuild it with "
                            "'spectssp normaldb build'.")
    notes = [f"normal database {name} does not record its {what} (built before spectssp recorded it): not checked"
             for what in unknown]
    for note in notes:
        log.warning(note)
    return notes


def _version_of(software) -> str | None:
    """'spectssp 0.1.0' -> '0.1.0'; None when absent or not ours."""
    name, _, version = str(software or "").partition(" ")
    if name != "spectssp" or not version.strip():
        return None
    return version.strip()


def _major_minor(version: str) -> tuple[int, int] | None:
    """(major, minor) of a release version; None for one that cannot be judged (unparsable, or a
    source tree's 0.0.0+src)."""
    m = re.match(r"(\d+)\.(\d+)", version)
    return None if m is None or version.endswith("+src") else (int(m[1]), int(m[2]))


def compatible(built: str, running: str) -> bool:
    """Semantic versioning: the same major version (for 0.x, the same minor) measures alike. A
    version that cannot be judged passes."""
    b, r = _major_minor(built), _major_minor(running)
    if b is None or r is None:
        return True
    return b == r if b[0] == 0 and r[0] == 0 else b[0] == r[0]
