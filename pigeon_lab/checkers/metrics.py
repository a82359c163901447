"""Typed metrics: the dataclasses a checker's figures are built from and read through.

A checker that reports figures declares their type (``register(name, metrics=T)`` or
``declare_metrics``). ``T(...).to_dict()`` is the JSON-ready dict ``Verdict.metrics``
and report.json carry; ``T.from_verdict(v)`` reads it back, so no reader spells the
keys. Reading is tolerant: a key that is missing, or holds a value of the wrong type,
takes the field's default (None for optional numbers), so reports written by older
versions still read. The same type is the checker's metric schema: :func:`shape_of`
says which paths into its metrics exist, for validating gate thresholds.

A metrics type is a frozen dataclass subclassing :class:`Metrics` whose fields all have
defaults and are typed ``int``, ``float``, ``str``, ``X | None``, ``list[X]``,
``dict[str, X]`` or another such dataclass.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Union, cast

if TYPE_CHECKING:
    from pigeon_lab.checkers.base import Verdict

M = TypeVar("M", bound="Metrics")


class Metrics:
    """Base of the typed metrics dataclasses: their JSON form and the way back."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict (nested dataclasses as dicts, in field order)."""
        out = _encode(self)
        assert isinstance(out, dict)
        return out

    @classmethod
    def from_dict(cls: type[M], data: Any) -> M:
        """Read the dict form back (tolerant: bad or missing values take the defaults)."""
        got = _decode(cls, data if isinstance(data, Mapping) else {})
        return cast(M, got)

    @classmethod
    def from_verdict(cls: type[M], verdict: Verdict | None) -> M:
        """The typed metrics of ``verdict`` (all defaults when there is no verdict)."""
        return cls.from_dict(verdict.metrics if verdict is not None else {})


class _Bad:
    """A value that does not fit its declared type (the field's default is used)."""


_BAD = _Bad()


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _optional(tp: Any) -> Any | None:
    """``X`` for ``X | None``, else None."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        rest = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(rest) == 1 and len(rest) < len(typing.get_args(tp)):
            return rest[0]
    return None


def _decode(tp: Any, value: Any) -> Any:
    """``value`` as type ``tp``, or ``_BAD`` when it does not fit."""
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            return _BAD
        hints = _hints(tp)
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in value:
                got = _decode(hints[f.name], value[f.name])
                if got is not _BAD:
                    kwargs[f.name] = got
        return tp(**kwargs)
    inner = _optional(tp)
    if inner is not None:
        if value is None:
            return None
        got = _decode(inner, value)
        return None if got is _BAD else got
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            return _BAD
        items = [_decode(args[0], v) for v in value]
        return [v for v in items if v is not _BAD]
    if origin is dict:
        if not isinstance(value, Mapping):
            return _BAD
        pairs = {str(k): _decode(args[1], v) for k, v in value.items()}
        return {k: v for k, v in pairs.items() if v is not _BAD}
    if isinstance(value, bool):
        return _BAD
    if tp is float:
        return float(value) if isinstance(value, (int, float)) else _BAD
    if tp is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value if isinstance(value, int) else _BAD
    if tp is str:
        return value if isinstance(value, str) else _BAD
    raise TypeError(f"metrics field type {tp!r} is not supported")


ShapeKind = Literal["record", "list", "map", "number", "text"]


@dataclass(frozen=True)
class Shape:
    """What a metric path segment may reach: a record of named fields, a list (indexed
    ``0``, ``1``, ... or ``*``), a map (any key, or ``*``), a number, or text."""

    kind: ShapeKind
    fields: Mapping[str, Shape] = field(default_factory=dict)
    item: Shape | None = None


def shape_of(tp: Any) -> Shape:
    """The shape of a metrics type (and of the types inside it)."""
    return _shape_of(tp)


@cache
def _shape_of(tp: Any) -> Shape:
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        fields = {f.name: _shape_of(hints[f.name]) for f in dataclasses.fields(tp)}
        return Shape("record", fields)
    inner = _optional(tp)
    if inner is not None:
        return _shape_of(inner)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is list:
        return Shape("list", item=_shape_of(args[0]))
    if origin is dict:
        return Shape("map", item=_shape_of(args[1]))
    if tp in (int, float):
        return Shape("number")
    if tp is str:
        return Shape("text")
    raise TypeError(f"metrics field type {tp!r} is not supported")


def leaf_paths(shape: Shape, prefix: str = "") -> list[str]:
    """Every path to a number in ``shape``; ``*`` stands for any list index or map key."""

    def join(name: str) -> str:
        return f"{prefix}.{name}" if prefix else name

    if shape.kind == "number":
        return [prefix]
    if shape.kind == "record":
        return [p for name, sub in shape.fields.items() for p in leaf_paths(sub, join(name))]
    if shape.item is not None and shape.kind in ("list", "map"):
        return leaf_paths(shape.item, join("*"))
    return []
