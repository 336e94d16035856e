"""Compact JSON schemas for tools/list: what pydantic generates, minus what costs a model
tokens without telling it anything (titles, `default: null` or `false`, explicit
`additionalProperties: true`, `items: {}`, and the null option of optional inputs, which may
simply be left out). Validation still runs on the pydantic models, so nothing here loosens a
check.
"""

from __future__ import annotations

from typing import Any

_NULL = {"type": "null"}


def compact(schema: Any, *, nullable: bool) -> Any:
    """`nullable`: keep null as an allowed value (outputs may carry nulls; inputs omit)."""
    if isinstance(schema, list):
        return [compact(item, nullable=nullable) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        key: compact(value, nullable=nullable)
        for key, value in schema.items()
        # a property named "title" or "default" maps to a dict, so it survives these checks
        if not (key == "title" and isinstance(value, str))
        and not (key == "default" and value in (None, False))
        and not (key == "additionalProperties" and value is True)
        and not (key == "items" and value == {})
    }
    options = out.get("anyOf")
    if isinstance(options, list) and _NULL in options:
        rest = [option for option in options if option != _NULL]
        if len(rest) == 1 and isinstance(rest[0], dict):
            # what the outer annotation says (its description) wins over the inner type's
            merged = rest[0] | {k: v for k, v in out.items() if k != "anyOf"}
            if not nullable:
                return merged
            if isinstance(merged.get("type"), str):
                merged["type"] = [merged["type"], "null"]
                return merged
        elif not nullable:
            out["anyOf"] = rest
    return out
