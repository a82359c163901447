"""The probe's families and checks: name -> definition, filled at import by each family module.

A family is one module (``handshake.py``, ``auth.py``, ...) that declares its checks
(``CheckSpec``: what it tests, the design rule it tests, the fix) and registers one
``Family`` whose ``run`` records a result for each. A new check is one ``CheckSpec`` in its
family's tuple and one ``ctx.check(id)`` block in its ``run``; a new family is one module
imported by ``pigeon_lab/advisor/probe/__init__.py``. The CLI's ``--family`` choices, the
review's rules (which name checks) and the HTML page read these registries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pigeon_lab.advisor.probe.context import ProbeContext


@dataclass(frozen=True)
class CheckSpec:
    """One check: its id (``<family>.<name>``), what it asks, the rule it tests, the fix."""

    id: str
    title: str
    rule: str
    fix: str

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]


@dataclass(frozen=True)
class Family:
    """A group of checks that run together on their own connections.

    ``connections``: the most connections it holds at once (the runner reserves them
    before it starts, so that families running side by side stay under the limit).
    ``order``: where its checks appear in the report (lowest first).
    """

    name: str
    title: str
    checks: tuple[CheckSpec, ...]
    run: Callable[[ProbeContext], None]
    connections: int = 2
    order: int = 100


CHECKS: dict[str, CheckSpec] = {}
FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    """Add a family and its checks; a duplicate id is a programming error."""
    if family.name in FAMILIES:
        raise ValueError(f"probe family {family.name!r} is registered twice")
    for spec in family.checks:
        if spec.family != family.name:
            raise ValueError(f"check {spec.id!r} does not start with {family.name!r}.")
        if spec.id in CHECKS:
            raise ValueError(f"probe check {spec.id!r} is registered twice")
        CHECKS[spec.id] = spec
    FAMILIES[family.name] = family
    ordered = sorted(FAMILIES.values(), key=lambda f: f.order)
    FAMILIES.clear()
    FAMILIES.update((f.name, f) for f in ordered)
    CHECKS.clear()
    CHECKS.update((c.id, c) for f in ordered for c in f.checks)
    return family


__all__ = ["CHECKS", "FAMILIES", "CheckSpec", "Family", "register_family"]
