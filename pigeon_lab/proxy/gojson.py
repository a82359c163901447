"""JSON the way Toxiproxy's Go server reads and writes it.

Clients of Toxiproxy (its Go client, toxiproxy-python, chaostoolkit) were written
against Go's `encoding/json`, so the fault proxy decodes and encodes like it:
only the first JSON value of a body is read (trailing bytes are ignored), object
keys match struct fields case-insensitively, `null` leaves a field as it was,
unknown keys are ignored, and a value of the wrong kind is an error worded like
Go's (`json: cannot unmarshal string into Go struct field Proxy.name of type
string`). Output is compact, with `<`, `>` and `&` escaped as Go does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

GoType = str  # "string", "bool", "int64", "int", "float32"


@dataclass
class ApiError(Exception):
    """An error the HTTP API answers with: `{"error": message, "status": status}`."""

    message: str
    status: int

    def __str__(self) -> str:
        return self.message

    def to_json(self) -> dict[str, object]:
        return {"error": self.message, "status": self.status}


BAD_BODY = "bad request body"


def bad_body(reason: str) -> ApiError:
    return ApiError(f"{BAD_BODY}: {reason}", 400)


def decode_body(raw: bytes) -> object:
    """The first JSON value of `raw`, as Go's json.Decoder reads it (400 when it cannot)."""
    text = raw.decode("utf-8", errors="replace")
    start = len(text) - len(text.lstrip())
    if start == len(text):
        raise bad_body("EOF")
    try:
        value, _end = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()):
            raise bad_body("unexpected EOF") from exc
        raise bad_body(f"invalid character {text[exc.pos]!r} ({exc.msg.lower()})") from exc
    return value


def kind_of(value: object) -> str:
    """How Go's decoder names a JSON value in a type error."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def type_error(value: object, struct: str, field: str, gotype: GoType) -> ApiError:
    return bad_body(
        f"json: cannot unmarshal {kind_of(value)} into Go struct field "
        f"{struct}.{field} of type {gotype}"
    )


def value_error(value: object, gotype: str) -> ApiError:
    return bad_body(f"json: cannot unmarshal {kind_of(value)} into Go value of type {gotype}")


INT_RANGES = {"int64": 63, "int": 63}


def convert(value: object, gotype: GoType, struct: str, field: str) -> object:
    """`value` as the Go type `gotype`, or a Go-worded 400."""
    if gotype == "string":
        if isinstance(value, str):
            return value
    elif gotype == "bool":
        if isinstance(value, bool):
            return value
    elif gotype == "float32":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif gotype in INT_RANGES:
        bits = INT_RANGES[gotype]
        if isinstance(value, int) and not isinstance(value, bool):
            if -(2**bits) <= value < 2**bits:
                return value
            raise bad_body(
                f"json: cannot unmarshal number {value} into Go struct field "
                f"{struct}.{field} of type {gotype}"
            )
        if isinstance(value, float):
            raise bad_body(
                f"json: cannot unmarshal number {value!r} into Go struct field "
                f"{struct}.{field} of type {gotype}"
            )
    raise type_error(value, struct, field, gotype)


def as_object(value: object, gotype: str) -> dict[str, Any] | None:
    """A JSON object (None for `null`), else the error Go gives for a non-object."""
    if value is None:
        return None
    if isinstance(value, dict):
        return value
    raise value_error(value, gotype)


def fields(
    obj: dict[str, Any] | None, schema: dict[str, GoType], struct: str, prefix: str = ""
) -> dict[str, object]:
    """The schema's fields present (and not null) in `obj`, matched like Go matches keys.

    An exact key wins over a case-insensitive one; among keys that fold to the
    same field, the last one in the object wins (Go assigns them in order).
    """
    if not obj:
        return {}
    folded = {key.lower(): key for key in schema}
    exact: dict[str, object] = {}
    loose: dict[str, object] = {}
    for key, value in obj.items():
        target = key if key in schema else folded.get(key.lower())
        if target is None:
            continue
        if value is None:
            continue
        converted = convert(value, schema[target], struct, prefix + target)
        (exact if key == target else loose)[target] = converted
    return {**loose, **exact}


def get_str(got: dict[str, object], key: str, default: str) -> str:
    value = got.get(key, default)
    return value if isinstance(value, str) else default


def get_bool(got: dict[str, object], key: str, default: bool) -> bool:
    value = got.get(key, default)
    return value if isinstance(value, bool) else default


def get_float(got: dict[str, object], key: str, default: float) -> float:
    value = got.get(key, default)
    return float(value) if isinstance(value, int | float) else default


def dumps(value: object) -> bytes:
    """Compact JSON with Go's HTML escaping; integral floats written as integers (float32)."""
    text = json.dumps(_go_numbers(value), separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
        .encode()
    )


def _go_numbers(value: object) -> object:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {k: _go_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_go_numbers(v) for v in value]
    return value
