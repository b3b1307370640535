"""processor.outputs: the CNN panel's warning for a study the atypicality check flagged."""
from __future__ import annotations

import numpy as np

from models.atypicality import Atypicality
from processor.outputs import ATYPICAL_WARNING, atypical_warning
from processor.render.panel import render_panel

HEADER = np.s_[40:140]


def _red(img: np.ndarray) -> np.ndarray:
    r, g, b = (img[..., i].astype(int) for i in range(3))
    return (r > 200) & (g < 120) & (b < 120)


def _panel(warning: str | None) -> np.ndarray:
    views = np.full((64, 64, 3), 90, np.uint8)
    return render_panel([("input", views), ("heat", views)], "CNN: indeterminate",
                        ["probabilities: AD 0.70   DLB 0.20   NC 0.10", "model demo@1", "site model"], warning)


def test_flagged_study_gets_a_red_warning_line_that_fits():
    text = atypical_warning(Atypicality(41.234, 38.139, True))
    assert text is not None and text.startswith(ATYPICAL_WARNING) and "distance 41.2 > 38.1" in text
    plain, warned = _panel(None), _panel(text)
    assert not _red(plain[HEADER]).any()
    red = _red(warned[HEADER])
    assert red.sum() > 500                                    # a line of bold red text
    cols = np.flatnonzero(red.any(axis=0))
    assert cols.max() < warned.shape[1] - 16                  # not cut at the right edge
    # the other lines are still drawn below it
    assert (warned[HEADER].max(axis=2) > 150).sum() > (plain[HEADER].max(axis=2) > 150).sum()


def test_no_warning_when_typical_or_without_the_check():
    assert atypical_warning(Atypicality(3.0, 38.139, False)) is None
    assert atypical_warning(None) is None


def test_a_2x3_panel_shows_each_block_at_its_own_width_with_every_view_named():
    from atlas.render.composite import LAYOUTS
    from processor.render.panel import BLOCK
    layout = LAYOUTS["2x3"]
    views = np.zeros((*layout.shape(64), 3), np.uint8)
    views[:, :] = (0, 0, 200)   # blue images: white text on them is the view names
    wide = render_panel([("input", views), ("heat", views)], "CNN: DLB", ["model demo@1"], None, layout)
    square = render_panel([("input", views[:, :64]), ("heat", views[:, :64])], "CNN: DLB", ["model demo@1"])
    assert wide.shape[0] == square.shape[0]
    assert wide.shape[1] - square.shape[1] == 2 * (layout.shape(BLOCK)[1] - BLOCK)
    top = wide.shape[0] - 56 - BLOCK
    white = wide[top:top + BLOCK].min(axis=2) > 200
    for t, left, _b, _r in layout.view_boxes(BLOCK).values():   # a name in the corner of every view
        assert white[t:t + 24, 16 + left:16 + left + 80].any()


def test_the_cnn_panel_follows_the_prediction_layout():
    """A 2 x 3 model's panel shows its blocks 1.5x as wide as a 2 x 2 model's, same height."""
    from atlas.render.composite import LAYOUTS, PAPER_LAYOUT
    from models.inference import Prediction
    from processor.config import defaults
    from processor.outputs import cnn_panel

    def panel(layout):
        img = np.full((*layout.shape(64), 3), 90, np.uint8)
        p = Prediction(np.array([0.7, 0.2, 0.1]), np.array([[0.7, 0.2, 0.1]]), img, np.zeros(img.shape[:2], np.float32),
                       img, "demo@1", "GLB", layout=layout)
        return cnn_panel(None, p, None, defaults())

    square, wide = panel(PAPER_LAYOUT), panel(LAYOUTS["2x3"])
    assert wide.shape[0] == square.shape[0] and wide.shape[1] > 1.4 * square.shape[1] - 100
