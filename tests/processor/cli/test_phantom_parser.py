"""The phantom command's parser lists the worlds' variants without importing the worlds."""
from __future__ import annotations

from processor import phantom as world_a
from processor import worldb as world_b
from processor.cli.parsers import phantom as parser


def test_world_a_variants_match_the_simulation() -> None:
    assert parser.VARIANTS == tuple(world_a.VARIANTS)
    assert parser.VARIANTS_DLB == tuple(world_a.DLB_VARIANTS)
    assert parser.VARIANTS_AD == tuple(world_a.AD_VARIANTS)


def test_world_b_variants_match_the_simulation() -> None:
    assert parser.VARIANTS_B == {label: tuple(v) for label, v in world_b.VARIANTS.items() if v}


def test_tracers_match_the_simulation() -> None:
    assert parser.TRACERS == tuple(world_a.TRACERS)


def test_normal_patterns_match_the_simulation() -> None:
    assert parser.NORMAL_PATTERNS == tuple(world_a.NORMAL_PATTERNS)
