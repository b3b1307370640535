"""Progress bars only where someone watches them: a terminal, without -q or --no-progress."""
from __future__ import annotations

import argparse
import io
import sys

import pytest

from processor.cli.common import show_progress
from processor.cli.main import main


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("terminal, quiet, no_progress, shown", [
    (True, False, False, True),
    (False, False, False, False),   # a log file or a pipe
    (True, True, False, False),     # -q
    (True, False, True, False),     # --no-progress
])
def test_bars_need_a_terminal_and_no_opt_out(monkeypatch, terminal, quiet, no_progress, shown):
    monkeypatch.setattr(sys, "stderr", _Terminal() if terminal else io.StringIO())
    assert show_progress(argparse.Namespace(quiet=quiet, no_progress=no_progress)) is shown


def test_a_command_without_the_flag_still_follows_the_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert show_progress(argparse.Namespace(quiet=False)) is True


@pytest.mark.parametrize("quiet, drawn", [(False, True), (True, False)])
def test_phantom_draws_its_bar_on_a_terminal_unless_quiet(monkeypatch, tmp_path, quiet, drawn):
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    args = ["phantom", "--world", "B", "--out", str(tmp_path / "NC"), "--label", "NC", "--count", "2", "--seed", "5"]
    assert main(args + (["-q"] if quiet else [])) == 0
    assert len(list((tmp_path / "NC").iterdir())) >= 2                 # the studies were written either way
    assert ("world B NC" in err.getvalue()) is drawn
