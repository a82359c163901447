"""The workload registry: name -> WorkloadKind (what a scenario's ``workload`` may run).

A workload is one kind of simulated user with everything that goes with it: its
settings (a section of the scenario's ``workload``, validated by its own model), its
Locust user classes (built in the load process, which alone imports Locust: the kind
names them by module path), the counters its users keep, and its read-back (what it
reads from the target once the load is over, written into the run folder).

Chat is the default workload: its fields are the top-level fields of ``workload``
(every scenario written so far); every other workload has its own section,
``workload.<name>``. Adding a workload is one module that calls
``register_workload``; the scenario model, the run and the recorder need no edit.
The module's path goes with the run (``WorkloadKind.module``) so that the load process
and its workers import it too.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pydantic import BaseModel

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pigeon_lab.protocol.codec import Codec


@dataclass(frozen=True)
class ReadbackRequest:
    """What a workload's read-back gets once the load is over (parent process).

    ``summary``: the load's final summary; ``token``: a token for (workspace, user) on the
    target; ``page_size``/``max_rate``: how gently to read a shared target; ``history``:
    False when the target has no history read (nothing to read back: checkers that need
    the final log say ``unknown``).
    """

    url: str
    token: Callable[[str, str], str]
    codec: Codec
    settings: BaseModel | None
    summary: Mapping[str, Any]
    out_dir: Path
    deadline_s: float = 120.0
    page_size: int = 500
    max_rate: float | None = None  # history reads per second (a shared target), None: no limit
    history: bool = True  # the target has a history read at all


ReadBack = Callable[[ReadbackRequest], Mapping[str, pa.Table]]
"""Reads the target and returns the tables to write, by file name (``final_logs.parquet``)."""


def resolve(ref: str) -> Any:
    """The object a ``"module:attr"`` reference names (imports the module)."""
    module, sep, attr = ref.partition(":")
    if not sep or not attr:
        raise ValueError(f"expected 'module:attribute', got {ref!r}")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class WorkloadKind:
    """One registered workload. ``help`` is its help text (``scenario kinds`` prints it).

        ``section``: the key under ``workload`` holding its settings (None: the top-level
        fields, which only the default workload, chat, may use). ``settings``: the model of
        that section. ``users``: ``"module:function"`` of the load-process function that
        returns its Locust user classes (called with the load context slot and the config).
        ``read_back``: ``"module:function"`` of its read-back (a ``ReadBack``), or None.
        Both are references, not objects, so that registering a workload imports neither
        Locust nor a Socket.IO client. ``module``: the module that registers this kind (the
        load process imports it). ``enabled(settings)``: whether a scenario runs it (its
        section's settings, or the whole ``workload`` for chat); ``count(settings)``: how many
    simulated users it spawns. ``history_kinds``: the
        history ``kind`` values its users record beyond the protocol's.
    """

    name: str
    help: str
    section: str | None
    settings: type[BaseModel] | None
    users: str
    module: str
    enabled: Callable[[Any], bool] = lambda settings: settings is not None
    count: Callable[[Any], int] = lambda settings: 0
    counters: tuple[str, ...] = ()
    read_back: str | None = None
    history_kinds: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def user_factory(self) -> Callable[..., list[type[Any]]]:
        """The load-process function that builds this workload's user classes (imports it)."""
        fn: Callable[..., list[type[Any]]] = resolve(self.users)
        return fn

    def read_back_fn(self) -> ReadBack | None:
        """Its read-back function (imports it), or None."""
        return None if self.read_back is None else resolve(self.read_back)


WORKLOADS: dict[str, WorkloadKind] = {}


def register_workload(kind: WorkloadKind) -> WorkloadKind:
    """Add ``kind`` to the registry (replacing one of the same name)."""
    if kind.section is None and kind.name != "chat":
        raise ValueError(f"workload {kind.name!r} needs a section (only chat uses the top level)")
    WORKLOADS[kind.name] = kind
    return kind


def sections() -> dict[str, WorkloadKind]:
    """Registered workloads by their section name under ``workload``."""
    return {k.section: k for k in WORKLOADS.values() if k.section is not None}


def import_modules(modules: list[str] | tuple[str, ...]) -> None:
    """Import the modules that register workloads (in the load process and its workers)."""
    for name in modules:
        importlib.import_module(name)


__all__ = [
    "WORKLOADS",
    "ReadBack",
    "ReadbackRequest",
    "WorkloadKind",
    "import_modules",
    "register_workload",
    "resolve",
    "sections",
]
