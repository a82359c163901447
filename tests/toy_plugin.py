"""A plugin made only of registrations: a toy fault kind and a toy workload.

Used by the seam tests to prove that a new fault or workload is one module registered
in one place: nothing else in pigeon-lab is edited for them. Importing it must not
import Locust (the run's parent process imports it to validate the scenario); the
load process imports it again, and only there are the user classes built.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from pigeon_lab.config_model import Frozen
from pigeon_lab.faults import FaultEnv, FaultKind, Heal, ParamSpec, PlannedFault
from pigeon_lab.faults import register_fault_kind as register_fault
from pigeon_lab.workloads import WorkloadKind, register_workload

TOY_KIND = "toy_hello"


def _toy_pause(env: FaultEnv, fault: PlannedFault) -> Heal:
    env.cluster.pause(fault.target)
    return lambda: env.cluster.resume(fault.target)


register_fault(
    FaultKind(
        "toy-pause",
        "A toy: pause a node for duration_s, with a note in its label.",
        frozenset({"node"}),
        window="required",
        inject=_toy_pause,
        params=(ParamSpec("note", "str", "a word for the label", required=True),),
        label=lambda f: f"toy-pause {f.target} ({f.params.get('note')})",
    )
)


class ToySettings(Frozen):
    """``workload.toy``: how many toy users, and what they say."""

    users: int = Field(default=1, ge=1)
    greeting: str = "hello"


def user_classes(slot: Any, config: Any) -> list[type[Any]]:
    """Toy users: each connects once with a token, records a ``toy_hello`` row, leaves."""
    import socketio
    from locust import User, task

    settings = config.workload.section("toy")

    class ToyUser(User):  # type: ignore[misc]
        abstract = True
        finished = False

        @task
        def hello(self) -> None:
            ctx = slot.get()
            if self not in ctx.users:
                ctx.users.append(self)
            i = ctx.next_index("toy")
            ws, user = ctx.config.workspace_names()[0], f"toy{i}"
            sio = socketio.Client(reconnection=False)
            try:
                sio.connect(
                    ctx.config.urls[0], auth=ctx.codec.auth(ctx.token(ws, user)), wait_timeout=10
                )
                ctx.recorder.record(TOY_KIND, user, user, ws, detail=settings.greeting)
                ctx.counters["toy_hellos"] += 1
            finally:
                sio.disconnect()
            self.finished = True
            while True:
                import gevent

                gevent.sleep(3600)

        def stop_now(self) -> None:
            pass

        def abandon(self) -> None:
            pass

    attrs = {"abstract": False, "fixed_count": settings.users}
    return [type("ToyUser", (ToyUser,), attrs)]


register_workload(
    WorkloadKind(
        name="toy",
        help="A toy: users that connect once and say hello.",
        section="toy",
        settings=ToySettings,
        users=f"{__name__}:user_classes",
        module=__name__,
        count=lambda s: s.users,
        counters=("toy_hellos",),
        history_kinds=(TOY_KIND,),
    )
)
