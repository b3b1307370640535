"""The ID box of processor.web.pictures covers the patient line of the real 3D-SSP sheet."""
from __future__ import annotations

import numpy as np

from atlas import load_atlas
from processor.render.sheet import SheetInfo, render_sheet
from processor.web.pictures import ID_BOX


def test_id_box_covers_every_pixel_the_patient_id_and_date_change() -> None:
    surface = load_atlas().surface
    z = {"GLB": np.zeros(len(surface.voxel), np.float32)}
    a = render_sheet(surface, z, SheetInfo("3D-SSP  Z-score  Decrease", "", "", "phantom IMP n=20"))
    b = render_sheet(surface, z, SheetInfo("3D-SSP  Z-score  Decrease", "W" * 24 + "-LONG-PATIENT-ID",
                                           "2025-03-14", "phantom IMP n=20"))
    ys, xs = np.nonzero((a != b).any(axis=-1))
    assert len(ys) > 100                                          # the ID line differs ...
    x0, y0, x1, y1 = ID_BOX
    assert ys.min() >= y0 and ys.max() < y1 and xs.min() >= x0 and xs.max() < int(a.shape[1] * x1)   # ... only in the box
    extra = (a[y0:y1, int(a.shape[1] * x1):] > 0).any()
    assert extra                                                  # the database label beside it stays visible
