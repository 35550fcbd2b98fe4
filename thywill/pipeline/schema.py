"""A small JSON-schema-like validator for message data.

Supports the keywords most message checks need: ``type`` (a name or a list of names:
object, array, string, integer, number, boolean, null), ``properties``, ``required``,
``additionalProperties`` (bool), ``items``, ``enum``, ``minLength``/``maxLength``,
``minimum``/``maximum`` and ``minItems``/``maxItems``. Anything else is refused when the
schema is built, so a typo never silently validates nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from thywill.types import JSON

KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "minItems",
        "maxItems",
    }
)
TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def check_schema(schema: Mapping[str, Any], where: str = "schema") -> None:
    """Raise ValueError when ``schema`` uses an unknown keyword or type."""
    unknown = set(schema) - KEYWORDS
    if unknown:
        raise ValueError(f"{where} has unsupported keywords {sorted(unknown)}")
    types = schema.get("type", [])
    for name in [types] if isinstance(types, str) else types:
        if name not in TYPES:
            raise ValueError(f"{where} has an unknown type {name!r}")
    for key, sub in schema.get("properties", {}).items():
        check_schema(sub, f"{where}.properties.{key}")
    if "items" in schema:
        check_schema(schema["items"], f"{where}.items")


def _is(value: JSON, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    return isinstance(value, TYPES[name])


def errors(value: JSON, schema: Mapping[str, Any], path: str = "data") -> list[str]:
    """Every way ``value`` breaks ``schema``, each naming where (empty: valid)."""
    if "type" in schema:
        names = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
        if not any(_is(value, name) for name in names):
            return [f"{path} must be of type {' or '.join(names)}"]
    found: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path} must be one of {schema['enum']!r}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            found.append(f"{path} must be at least {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            found.append(f"{path} must be at most {schema['maxLength']} characters")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            found.append(f"{path} must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            found.append(f"{path} must be at most {schema['maximum']}")
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) < schema.get("minItems", 0):
            found.append(f"{path} must have at least {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            found.append(f"{path} must have at most {schema['maxItems']} items")
        if "items" in schema:
            for index, item in enumerate(value):
                found += errors(item, schema["items"], f"{path}[{index}]")
    if isinstance(value, Mapping):
        properties = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                found.append(f"{path}.{key} is required")
        for key, item in value.items():
            if key in properties:
                found += errors(item, properties[key], f"{path}.{key}")
            elif schema.get("additionalProperties", True) is False:
                found.append(f"{path}.{key} is not allowed")
    return found
