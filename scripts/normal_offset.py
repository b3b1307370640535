"""How one set of normals reads against another normal database: the site offset, by region.

Every member of ``SITE.ndb`` is read, as a study would be, against the mean and SD of
``REFERENCE.ndb`` (GLB-normalised decrease Z, the product's report reference), and the mean Z
of each lobar region over the members is printed as a Markdown table. A positive value is a
region where the site's normals have lower counts than the reference database's: a study of
that site carries it as an apparent decrease; a negative one hides a decrease of that size.
Normals of the same world read near zero; the validity report (session 12) uses it to show what
world B's normals look like against the bundled database.

    PYTHONPATH=. .venv/bin/python scripts/normal_offset.py SITE.ndb [SITE2.ndb ...] \
        [--reference atlas/data/normal_imp_phantom.ndb]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from atlas import load_atlas
from atlas.load import BUNDLED_NORMAL_DATABASE
from atlas.normaldb import NormalDatabase
from models.features import RegionFeatures
from spectssp.core.zscore import decrease_z

REFERENCE = "GLB"


def region_offsets(site: NormalDatabase, reference: NormalDatabase, regions: RegionFeatures) -> dict[str, float]:
    """Mean decrease Z of the site's members against the reference database, per lobar region
    (the regional Z table of ``models.features``), plus ``"pixels Z > 2"``: the mean share of
    surface pixels over 2 per member."""
    r = reference.references.index(REFERENCE)
    z = decrease_z(site.normalised()[:, site.references.index(REFERENCE), :], reference.mean[r], reference.sd[r])
    out = dict(zip(regions.regions, map(float, regions(z.mean(axis=0)[None, :]))))
    out["pixels Z > 2"] = float((z > 2).mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("site", nargs="+", help="normal databases whose members are read")
    ap.add_argument("--reference", default=str(BUNDLED_NORMAL_DATABASE),
                    help="the database they are read against (default: the bundled one)")
    args = ap.parse_args()
    reference = NormalDatabase.load(args.reference, volumes=False)
    regions = RegionFeatures(load_atlas().pixel_voi, [REFERENCE])
    table = {Path(p).stem: region_offsets(NormalDatabase.load(p, volumes=False), reference, regions)
             for p in args.site}
    print(f"| region (mean Z against {Path(args.reference).name}) | " + " | ".join(table) + " |")
    print("|---" * (len(table) + 1) + "|")
    for row in next(iter(table.values())):
        fmt = "{:.3f}" if row == "pixels Z > 2" else "{:+.2f}"
        print(f"| {row} | " + " | ".join(fmt.format(t[row]) for t in table.values()) + " |")


if __name__ == "__main__":
    main()
