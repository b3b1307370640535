"""result.json checked against the published schema (docs/result.schema.json) wherever the
tests read one.

The published schema is open to additive keys (consumers of spectssp.result/1 must accept
them); the tests validate against it *closed*, so a key our writer adds without documenting
it in the schema fails here.
"""
from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "result.schema.json"


def published_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def closed(schema: Any) -> Any:
    """A copy where every object type that lists ``properties`` allows no other key (the
    if/then parts, which have no type, stay as they are)."""
    if isinstance(schema, list):
        return [closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: closed(v) for k, v in schema.items()}
    if out.get("type") == "object" and "properties" in out and out.get("additionalProperties", True) is True:
        out["additionalProperties"] = False
    return out


@functools.cache
def validator() -> Draft202012Validator:
    schema = published_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(closed(copy.deepcopy(schema)))


def result_errors(result: Any) -> list[str]:
    """Every schema violation of ``result``, as 'where: what' lines (empty when valid); for a
    value that matches none of its alternatives (null or a record), the record's complaint."""
    lines = []
    for e in validator().iter_errors(result):
        while e.context:   # the deepest complaint, about content rather than the other branch's shape
            e = max(e.context, key=lambda c: (len(c.absolute_path), c.validator not in ("type", "maxProperties")))
        lines.append(f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}")
    return sorted(lines)


def assert_valid_result(result: Any) -> Any:
    """``result`` itself when it matches the schema; an AssertionError listing what does not."""
    problems = result_errors(result)
    assert not problems, "result.json does not match docs/result.schema.json:\n" + "\n".join(problems)
    return result


def load_result(path: Path) -> dict[str, Any]:
    """A result.json read from disk and validated."""
    return assert_valid_result(json.loads(Path(path).read_text(encoding="utf-8")))
