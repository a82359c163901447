"""The base of every config model (scenario, workload settings, target profiles): frozen,
unknown fields forbidden, errors that carry the path of the field at fault, suggestions."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

Loc = tuple[str | int, ...]


class FieldProblem(ValueError):
    """A validation failure that knows the path of the offending field.

    ``path`` is relative to where pydantic reports the error (the model or
    field whose validator raised).
    """

    def __init__(self, path: Loc, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{format_loc(path)}: {reason}" if path else reason)


def format_loc(loc: Iterable[str | int]) -> str:
    """``('faults', 1, 'target')`` -> ``faults[1].target``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for a close match, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def unknown(what: str, value: str, known: Sequence[str]) -> str:
    """``unknown fault kind 'x'; known: a, b; did you mean 'a'?``."""
    return f"unknown {what} {value!r}; known: {', '.join(known)}{did_you_mean(value, known)}"


class Frozen(BaseModel):
    """Base of every scenario model: frozen, unknown fields forbidden."""

    model_config = ConfigDict(extra="forbid", frozen=True)
