"""The two small languages of target profiles: payload templates and ack getters.

A *template* is any JSON-like value whose strings are Jinja2 templates rendered with
native types (``"{{ after_seq }}"`` gives an int); a mapping key whose value renders to
``None`` is dropped (an optional field left out). A *getter* reads one value from a
received object: a dotted path (``data.message.seq``; a number indexes a list) or a
Jinja2 expression (``"{{ ack.status == 'sent' }}"``) over the object named ``root``.
Both compile once; rendering never raises on missing data (it gives ``None``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import ChainableUndefined
from jinja2 import TemplateError as JinjaError
from jinja2.nativetypes import NativeEnvironment

_ENV = NativeEnvironment(undefined=ChainableUndefined, autoescape=False)
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.([A-Za-z_][A-Za-z0-9_-]*|\d+))*$")
_EXPR = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.S)


class TemplateError(ValueError):
    """A template or getter that does not compile, with the reason."""


def _native(value: Any) -> Any:
    if isinstance(value, ChainableUndefined):
        return None
    return value


def _constant(value: Any) -> Callable[[Mapping[str, Any]], Any]:
    def constant(ctx: Mapping[str, Any]) -> Any:
        return value

    return constant


def compile_template(value: Any) -> Callable[[Mapping[str, Any]], Any]:
    """A function of the context that renders ``value`` (see the module docstring)."""
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return _constant(value)
        try:
            template = _ENV.from_string(value)
        except JinjaError as exc:
            raise TemplateError(f"template {value!r} does not compile: {exc}") from None
        return lambda ctx: _native(template.render(**ctx))
    if isinstance(value, Mapping):
        parts = {str(k): compile_template(v) for k, v in value.items()}

        def render_mapping(ctx: Mapping[str, Any]) -> dict[str, Any]:
            out = {k: f(ctx) for k, f in parts.items()}
            return {k: v for k, v in out.items() if v is not None}

        return render_mapping
    if isinstance(value, list):
        items = [compile_template(v) for v in value]
        return lambda ctx: [f(ctx) for f in items]
    return _constant(value)


def compile_getter(spec: str, root: str) -> Callable[[Any], Any]:
    """A function that reads ``spec`` from an object (named ``root`` in expressions)."""
    if not isinstance(spec, str) or not spec.strip():
        raise TemplateError(f"expected a path or a {{{{ expression }}}}, got {spec!r}")
    match = _EXPR.match(spec)
    if match:
        try:
            expr = _ENV.compile_expression(match.group(1), undefined_to_none=True)
        except JinjaError as exc:
            raise TemplateError(f"expression {spec!r} does not compile: {exc}") from None

        def evaluate(obj: Any) -> Any:
            try:
                return _native(expr(**{root: obj}))
            except (JinjaError, TypeError, ValueError, AttributeError, KeyError):
                return None

        return evaluate
    if not _PATH.match(spec):
        raise TemplateError(
            f"{spec!r} is neither a dotted path (data.message.seq) nor a {{{{ expression }}}}"
        )
    keys: list[str | int] = [int(p) if p.isdigit() else p for p in spec.split(".")]

    def walk(obj: Any) -> Any:
        for key in keys:
            if isinstance(key, int) and isinstance(obj, list) and -len(obj) <= key < len(obj):
                obj = obj[key]
            elif isinstance(obj, Mapping) and str(key) in obj:
                obj = obj[str(key)]
            else:
                return None
        return obj

    return walk


__all__ = ["TemplateError", "compile_getter", "compile_template"]
