"""Workloads: the registry and the built-in ones (importing this registers chat, then voice)."""

from pigeon_lab.workloads import chat as _chat  # noqa: F401  (registers the chat workload)
from pigeon_lab.workloads import voice as _voice  # noqa: F401  (registers the voice workload)
from pigeon_lab.workloads.base import (
    WORKLOADS,
    ReadBack,
    ReadbackRequest,
    WorkloadKind,
    import_modules,
    register_workload,
    resolve,
    sections,
)

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
