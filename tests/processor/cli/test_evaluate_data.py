"""``spectssp evaluate --data [NAME=]DIR``: one unnamed set is "test"; several need names."""
from __future__ import annotations

from pathlib import Path

import pytest

from processor.cli.evaluate import _data_sets
from spectssp.errors import ErrorCode, SpectSSPError


def test_one_unnamed_folder_is_the_test_set(tmp_path):
    assert _data_sets([str(tmp_path)]) == {"test": tmp_path}
    assert _data_sets(None) == {} and _data_sets([]) == {}


def test_several_named_sets_keep_their_order(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    got = _data_sets([f"worldB={b}", f"worldA={a}"])
    assert list(got) == ["worldB", "worldA"] and got["worldA"] == Path(a)


@pytest.mark.parametrize("values, code", [
    (["{d}", "{d}"], ErrorCode.CONFIG_INVALID),             # several, unnamed
    (["x={d}", "x={d}"], ErrorCode.CONFIG_INVALID),         # a name twice
    (["validation={d}"], ErrorCode.CONFIG_INVALID),         # a simulated set's name
    (["={d}"], ErrorCode.CONFIG_INVALID),                   # an empty name
    (["x={d}/missing"], ErrorCode.INPUT_NOT_FOUND),         # not a folder
])
def test_bad_data_values_get_a_code_and_a_sentence(tmp_path, values, code):
    with pytest.raises(SpectSSPError) as err:
        _data_sets([v.format(d=tmp_path) for v in values])
    assert err.value.code == code and str(err.value).rstrip().endswith(".")
