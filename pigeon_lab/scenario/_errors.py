"""Turn pydantic's and PyYAML's errors into ConfigErrors that name file, field and reason."""

from __future__ import annotations

import typing
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from pigeon_lab.errors import ConfigError
from pigeon_lab.scenario._common import FieldProblem, Loc, did_you_mean, format_loc

_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}
_MAX_LISTED = 5


def show(value: Any) -> str:
    """A short rendering of a user's value for a message."""
    if isinstance(value, dict):
        return "a mapping"
    text = repr(value) if isinstance(value, str) else yaml.safe_dump(value).strip()
    text = text.removesuffix("\n...").strip()
    return text if len(text) <= 60 else text[:57] + "..."


def yaml_error(exc: yaml.YAMLError, source: str) -> ConfigError:
    """A YAML syntax error with its line and column (1-based)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        return ConfigError(
            f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {what}", source=source
        )
    return ConfigError(f"invalid YAML: {exc}", source=source)


def translate(
    exc: ValidationError, root: type[BaseModel], source: str, text: str | None = None
) -> ConfigError:
    """One ConfigError for a ValidationError: the first problem, then the others listed."""
    problems: list[tuple[Loc, str]] = []
    for err in exc.errors():
        problem = _problem(err, root)
        if problem not in problems:
            problems.append(problem)
    (loc, reason), rest = problems[0], problems[1:]
    line = _line_of(text, loc) if text else None
    message = reason + (f" (line {line})" if line else "")
    for other_loc, other_reason in rest[:_MAX_LISTED]:
        message += f"\n  {format_loc(other_loc) or '(top level)'}: {other_reason}"
    if len(rest) > _MAX_LISTED:
        message += f"\n  ... and {len(rest) - _MAX_LISTED} more"
    return ConfigError(message, source=source, field=format_loc(loc) or None)


def _problem(err: Any, root: type[BaseModel]) -> tuple[Loc, str]:
    """(field path, reason) for one pydantic error dict."""
    loc: Loc = tuple(err["loc"])
    kind: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    got = show(err.get("input"))
    if kind == "value_error":
        cause = ctx.get("error")
        if isinstance(cause, FieldProblem):
            return loc + cause.path, cause.reason
        return loc, str(cause) if cause is not None else err["msg"]
    if kind == "extra_forbidden":
        name = str(loc[-1])
        return loc, f"unknown field {name!r}{did_you_mean(name, _fields_at(root, loc[:-1]))}"
    if kind == "missing":
        return loc, f"missing required field {str(loc[-1])!r}"
    if kind in _EXPECTED:
        return loc, f"expected {_EXPECTED[kind]}, got {got}"
    if kind == "literal_error":
        return loc, f"expected one of {ctx.get('expected')}, got {got}"
    if kind in _BOUNDS:
        op, key = _BOUNDS[kind]
        return loc, f"must be {op} {ctx.get(key)}, got {got}"
    if kind == "string_pattern_mismatch":
        return loc, f"expected letters, digits, '.', '_' or '-' (at most 64), got {got}"
    return loc, f"{err['msg']}, got {got}"


def _fields_at(root: type[BaseModel], loc: Loc) -> list[str]:
    """The field names of the model found at ``loc`` (for did-you-mean), or []."""
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return []
        model = _model_in(model.model_fields[part].annotation)
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _line_of(text: str, loc: Loc) -> int | None:
    """1-based line of the deepest part of ``loc`` present in the YAML ``text``."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line: int | None = None
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = [(k, v) for k, v in node.value if getattr(k, "value", None) == part]
            if not match:
                break
            line, node = match[0][0].start_mark.line + 1, match[0][1]
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
