"""`pigeon-lab scenario kinds`: what a scenario may name, read from the registries.

Fault kinds (``pigeon_lab.faults``), workloads (``pigeon_lab.workloads``) and checkers
(``pigeon_lab.checkers``), each with its help text: the same registries the scenario
validator reads, so this list is what a scenario file may use.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pigeon_lab.checkers import REGISTRY
from pigeon_lab.checkers.suite import CHECKER_ORDER
from pigeon_lab.faults import FAULT_KINDS, FaultKind
from pigeon_lab.workloads import WORKLOADS


def _first_paragraph(doc: str | None) -> str:
    text = (doc or "").strip().split("\n\n")[0]
    return " ".join(line.strip() for line in text.splitlines())


def _fault_row(kind: FaultKind) -> dict[str, Any]:
    return {
        "name": kind.name,
        "window": kind.window,
        "targets": sorted(kind.targets),
        "params": [
            {"name": p.name, "type": p.type, "required": p.required, "help": p.help}
            for p in kind.params
        ],
        "available": kind.available,
        "needs": kind.needs or None,
        "help": kind.help,
    }


def registries() -> dict[str, list[dict[str, Any]]]:
    """Every fault kind, workload and checker with its help text (JSON-ready)."""
    return {
        "faults": [_fault_row(k) for k in FAULT_KINDS.values()],
        "workloads": [
            {
                "name": w.name,
                "section": f"workload.{w.section}" if w.section else "workload (top level)",
                "help": w.help,
            }
            for w in WORKLOADS.values()
        ],
        "checkers": [
            {"name": name, "help": _first_paragraph(REGISTRY[name].__doc__)}
            for name in [*CHECKER_ORDER, *(n for n in REGISTRY if n not in CHECKER_ORDER)]
        ],
    }


def kinds(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
) -> None:
    """List the fault kinds, workloads and checkers a scenario may name, with their help."""
    data = registries()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    console = Console(soft_wrap=False)
    faults = Table(title="fault kinds (faults[].kind)")
    for col in ("kind", "window", "targets", "params", "what it does"):
        faults.add_column(col, ratio=3 if col == "what it does" else None)
    for f in data["faults"]:
        params = ", ".join(p["name"] + ("" if p["required"] else "?") for p in f["params"])
        note = "" if f["available"] else f" [yellow](needs {escape(str(f['needs']))})[/]"
        faults.add_row(
            f["name"], f["window"], ", ".join(f["targets"]), params, escape(f["help"]) + note
        )
    console.print(faults)
    loads = Table(title="workloads")
    for col in ("workload", "settings", "what it does"):
        loads.add_column(col)
    for w in data["workloads"]:
        loads.add_row(w["name"], w["section"], escape(w["help"]))
    console.print(loads)
    checks = Table(title="checkers (checks.invariants)")
    checks.add_column("checker")
    checks.add_column("what it proves")
    for c in data["checkers"]:
        checks.add_row(c["name"], escape(c["help"]))
    console.print(checks)


__all__ = ["kinds", "registries"]
