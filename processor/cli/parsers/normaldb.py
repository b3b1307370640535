"""Arguments of ``spectssp normaldb`` (the actions themselves: ``processor/cli/normaldb_build.py``,
``processor/cli/normaldb_info.py``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from processor.cli.common import add_config_arg
from processor.config import MAX_TEMPLATE_ROUNDS

BUILD_DETAILS = """\
Each series goes through intake and registration like a patient study, is harmonised to
ssp.resolution_fwhm_mm (config.yaml), and its 3D-SSP values and reference-region means are
stored, with the registered volume (for retraining and for leave-one-out maps). All members
must have the same tracer. Patients are then processed at the database's resolution.

A site registration template is made from the members first (registration.site_template_rounds
rounds of register-and-average, starting from the bundled template; 0: none) and stored in the
database: patients processed against it are registered to it, and their registration QC is
judged against the members' QC values (docs/registration.md).
"""
HELP = """\
Build a normal database from a site's own normal studies (the paper used 28), or show one.

  spectssp normaldb build NORMALS/ --out site.ndb
  spectssp normaldb info site.ndb
  spectssp normaldb info --config site.yaml     # the databases the configuration uses

""" + BUILD_DETAILS
BUILD_HELP = """\
Build a normal database from a site's own normal studies (the paper used 28).

  spectssp normaldb build NORMALS/ --out site.ndb

""" + BUILD_DETAILS


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("normaldb", help="build or show a normal database", description=HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    ssub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    b = ssub.add_parser("build", help="build a database from normal DICOM studies", description=BUILD_HELP,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                   help="folders or DICOM files of normal studies; every series found under them is one member")
    b.add_argument("--out", type=Path, required=True, metavar="FILE", help="database file to write (.ndb)")
    b.add_argument("--tracer", default=None, help="expected tracer (default: from the DICOM headers)")
    b.add_argument("--strict", action="store_true",
                   help="fail, writing nothing, if any input series is rejected or fails registration QC")
    b.add_argument("--note", default="", help="free text stored in the database (e.g. how members were chosen)")
    b.add_argument("--template-rounds", type=int, choices=range(0, MAX_TEMPLATE_ROUNDS + 1), default=None,
                   metavar="N", help="rounds of register-and-average for the site registration template "
                   f"(0-{MAX_TEMPLATE_ROUNDS}; 0: none, the bundled template; default: "
                   "registration.site_template_rounds)")
    b.add_argument("--symmetric-template", action="store_true",
                   help="average the site template with its left-right mirror (default: "
                   "registration.site_template_symmetric)")
    add_config_arg(b)
    b.set_defaults(command_module="normaldb_build")
    info_help = ("summary and leave-one-out specificity of a database; without FILE, "
                 "the databases the configuration uses")
    i = ssub.add_parser("info", help=info_help, description=info_help[0].upper() + info_help[1:] + ".")
    i.add_argument("file", type=Path, nargs="?", default=None, metavar="FILE",
                   help="a database written by 'spectssp normaldb build' (.ndb)")
    add_config_arg(i)
    i.set_defaults(command_module="normaldb_info")
    return p
