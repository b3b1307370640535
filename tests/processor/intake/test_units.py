"""Tracer names and geometry maths in isolation."""
from __future__ import annotations

import numpy as np
import pytest

from spectssp.errors import ErrorCode
from spectssp.errors import SpectSSPError
from processor.intake import normalise_tracer
from processor.intake.geometry import multiframe_grid, stack_slices


@pytest.mark.parametrize("text, name", [
    ("IMP", "IMP"), ("123I-IMP", "IMP"), ("I-123 IMP", "IMP"), ("Iofetamine (123I)", "IMP"),
    ("N-isopropyl-p-iodoamphetamine", "IMP"), ("N-ISOPROPYL-P-[123I]IODOAMPHETAMINE", "IMP"),
    ("iofetamine hydrochloride I 123", "IMP"), ("99mTc-HMPAO", "HMPAO"), ("Exametazime", "HMPAO"),
    ("Ceretec", "HMPAO"), ("Tc99m ECD", "ECD"), ("Bicisate", "ECD"), ("Neurolite", "ECD"),
    ("DaTSCAN", "FP-CIT"), ("123I-FP-CIT", "FP-CIT"), ("Ioflupane", "FP-CIT"), ("18F-FDG", "FDG"),
    ("Fludeoxyglucose F^18^", "FDG"),
    ("IMPORTANT", None), ("Tracer X", None), ("", None), (None, None),
])
def test_tracer_synonyms(text, name):
    assert normalise_tracer(text) == name


def test_negative_spacing_points_against_normal():
    grid = multiframe_grid([0, 0, 0], [1, 0, 0, 0, 1, 0], [2, 3], -4.0)
    assert np.allclose(grid.direction[:, 2], [0, 0, -1])
    assert np.allclose(grid.spacing, [3, 2, 4])  # PixelSpacing is (row step, column step)
    assert np.linalg.det(grid.direction) == pytest.approx(-1)
    assert np.allclose(grid.affine() @ [0, 0, 5, 1], [0, 0, -20, 1])


def test_first_frame_not_slice_one_moves_origin():
    grid = multiframe_grid([0, 0, 10], [1, 0, 0, 0, 1, 0], [2, 2], 2.5, first_slice=3)
    assert np.allclose(grid.origin, [0, 0, 5])


def test_stack_slices_sorts_along_normal_and_measures_step():
    positions = [[0, 0, 8], [0, 0, 0], [0, 0, 4], [0, 0, 12]]
    order, grid = stack_slices(positions, [1, 0, 0, 0, 1, 0], [2, 2])
    assert list(order) == [1, 2, 0, 3]
    assert np.allclose(grid.origin, [0, 0, 0]) and grid.spacing[2] == pytest.approx(4)


@pytest.mark.parametrize("positions", [
    [[0, 0, 0], [0, 0, 4], [0, 0, 12]],          # gap
    [[0, 0, 0], [0, 0, 4], [0, 0, 4]],           # duplicate
    [[0, 0, 0], [3, 0, 4], [6, 0, 8]],           # sheared
])
def test_stack_slices_rejects_bad_stacks(positions):
    with pytest.raises(SpectSSPError) as exc:
        stack_slices(positions, [1, 0, 0, 0, 1, 0], [2, 2])
    assert exc.value.code == ErrorCode.INCONSISTENT_GEOMETRY


@pytest.mark.parametrize("expected, name", [
    ("IMP", "IMP"), ("123I-IMP", "IMP"), ("imp", "IMP"), ("HMPAO", "HMPAO"), ("Tracer X", "TRACER X"),
    ("unknown", None), ("", None), (None, None),
])
def test_expected_tracer_normalised(expected, name):
    from processor.intake.load import expected_name
    assert expected_name(expected) == name
