"""The load process: Locust as a library (local, master or worker), progress, history.

Phases of ``run_main``:
  1. build the Environment and runner (LocalRunner, or MasterRunner + N local workers /
     ``expect_workers`` remote ones; workers get the config by a custom message);
  2. spawn every user over ``ramp_s``; print a JSON progress line each second;
  3. after ``ramp_s + duration_s``, stop gracefully: in-flight sends end, channels catch
     up, users disconnect; what is unresolved after the drain budget is ``send_info``;
  4. collect the history (workers ship it in chunks), write ``history.parquet``, print
     ``{"done": true, ...}``. Imports Locust: never import it from the parent process.
"""

from __future__ import annotations

import dataclasses
import gc
import io
import json
import os
import subprocess
import sys
import time
from typing import Any

import gevent
import gevent.queue
import locust.runners
import pyarrow as pa
from locust import User
from locust.env import Environment

from pigeon_lab.errors import LoadError
from pigeon_lab.history.io import write_table
from pigeon_lab.history.recorder import Recorder, rows_to_table
from pigeon_lab.history.schema import HISTORY_SCHEMA
from pigeon_lab.load import clock
from pigeon_lab.load.config import LoadConfig, LoadSummary
from pigeon_lab.load.context import ContextSlot, LoadContext
from pigeon_lab.load.workload import all_channels
from pigeon_lab.workloads import WORKLOADS, import_modules

CHUNK_ROWS = 20_000


def user_classes(slot: ContextSlot, config: LoadConfig) -> list[type[User]]:
    """The user classes of every workload the config runs (each workload's factory)."""
    import_modules(config.workload_modules)
    classes: list[type[User]] = []
    for name in config.workload.enabled_workloads():
        classes += WORKLOADS[name].user_factory()(slot, config)
    return classes


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _drain_local(ctx: LoadContext, budget_s: float) -> None:
    """Stop the users of this process gracefully, then abandon whoever is still busy."""
    ctx.stopping = True
    for u in ctx.users:
        u.stop_now()
    deadline = time.monotonic() + budget_s
    while not ctx.finished() and time.monotonic() < deadline:
        gevent.sleep(0.1)
    for u in ctx.users:
        u.abandon()


def _table_chunks(table: pa.Table) -> list[bytes]:
    out = []
    for start in range(0, max(table.num_rows, 1), CHUNK_ROWS):
        sink = io.BytesIO()
        opts = pa.ipc.IpcWriteOptions(compression="zstd")
        with pa.ipc.new_stream(sink, table.schema, options=opts) as w:
            w.write_table(table.slice(start, CHUNK_ROWS))
        out.append(sink.getvalue())
    return out


def _chunk_table(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.BufferReader(data)).read_all()


class _Progress:
    def __init__(self, config: LoadConfig) -> None:
        self.config = config
        self.start = time.monotonic()
        self.last_sends = 0
        self.last_t = self.start

    def line(
        self, users: int, counters: dict[str, int], extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        now = time.monotonic()
        sends = counters.get("sends", 0)
        rate = (sends - self.last_sends) / max(1e-6, now - self.last_t)
        self.last_sends, self.last_t = sends, now
        return {
            "elapsed_s": round(now - self.start, 2),
            "duration_s": self.config.workload.duration_s,
            "users": users,
            "sends_per_s": round(rate, 1),
            "acks": counters.get("acks", 0),
            "errors": counters.get("send_fail", 0) + counters.get("send_info", 0),
            "recv": counters.get("recv", 0),
            **(extra or {}),
        }


def _local_extra(ctx: LoadContext) -> dict[str, Any]:
    """Progress of one process beyond the counters: deliveries, their p99 over the last
    line's window, the process's pid and CPU seconds (user + system) so far."""
    t = os.times()
    return {
        "deliver": ctx.counters["deliver"],
        "delivery_p99_ms": ctx.delivery_ms.window()["p99"],
        "pid": os.getpid(),
        "cpu_s": round(t.user + t.system, 3),
    }


def _summary(
    config: LoadConfig,
    table: pa.Table,
    elapsed: float,
    counters: dict[str, int] | None = None,
    **extra: Any,
) -> LoadSummary:
    kinds = table.column("kind").to_pandas().astype(str).value_counts().to_dict()
    if not config.record and counters:  # nothing recorded (benchmarks): use the counters
        kinds = {
            "send_invoke": counters.get("sends", 0),
            "send_ok": counters.get("acks", 0),
            "send_fail": counters.get("send_fail", 0),
            "send_info": counters.get("send_info", 0),
            "recv": counters.get("recv", 0),
            "deliver": counters.get("deliver", 0),
        }
    path = write_table(table, config.out_dir / "history.parquet")
    return LoadSummary(
        history_path=path,
        rows=table.num_rows,
        users=config.workload.users,
        sends=int(kinds.get("send_invoke", 0)),
        acks=int(kinds.get("send_ok", 0)),
        send_fail=int(kinds.get("send_fail", 0)),
        send_info=int(kinds.get("send_info", 0)),
        recv=int(kinds.get("recv", 0)),
        deliver=int(kinds.get("deliver", 0)),
        elapsed_s=round(elapsed, 2),
        channels=all_channels(config),
        **extra,
    )


def _spawn_rate(config: LoadConfig) -> float:
    total, ramp = config.total_users, config.workload.ramp_s
    return total / ramp if ramp > 0 else float(max(total, 1) * 100)


def _end_of_load(config: LoadConfig, start: float) -> float:
    return start + config.workload.ramp_s + config.workload.duration_s


def run_local(config: LoadConfig) -> LoadSummary:
    """One process: LocalRunner."""
    ctx = LoadContext(config, Recorder(config.record))
    env = Environment(user_classes=user_classes(ContextSlot(ctx), config))
    runner = env.create_local_runner()
    progress = _Progress(config)
    runner.start(config.total_users, spawn_rate=_spawn_rate(config))
    _emit(progress.line(0, ctx.counters))  # the load has started: the fault clock aligns on it
    end = _end_of_load(config, progress.start)
    frozen = False
    while time.monotonic() < end:
        gevent.sleep(min(1.0, max(0.0, end - time.monotonic())))
        _emit(progress.line(runner.user_count, ctx.counters, _local_extra(ctx)))
        if not frozen and runner.user_count >= config.total_users:
            # the users' long-lived objects: out of the full collections (shorter GC pauses)
            gc.freeze()
            frozen = True
    _drain_local(ctx, config.drain_budget_s)
    runner.quit()
    return _summary(
        config,
        ctx.recorder.to_table(),
        time.monotonic() - progress.start,
        ctx.counters,
        delivery_ms=ctx.delivery_ms.summary(),
        ack_ms=ctx.ack_ms.summary(),
    )


def run_master(config: LoadConfig) -> LoadSummary:
    """MasterRunner: N local worker processes (``processes``) or remote ones (``master_bind``)."""
    if config.master_bind:
        host, _, port_s = config.master_bind.rpartition(":")
        host, port, n_workers = host or "*", int(port_s or 5557), max(1, config.expect_workers)
    else:
        host, port, n_workers = "127.0.0.1", _free_port(), config.workload.processes
    env = Environment(user_classes=user_classes(ContextSlot(), config))
    runner = env.create_master_runner(master_bind_host=host, master_bind_port=port)
    counters: dict[str, dict[str, int]] = {}
    chunks: dict[str, list[bytes]] = {}
    done: set[str] = set()

    def on_report(client_id: str, data: dict[str, Any]) -> None:
        if "pigeon" in data:
            counters[client_id] = data["pigeon"]

    def on_rows(environment: Any, msg: Any, **_: Any) -> None:
        chunks.setdefault(msg.node_id, []).append(msg.data["data"])
        if msg.data.get("last"):
            done.add(msg.node_id)

    configured: dict[str, str | None] = {}  # worker -> None (ready) or its error
    shifts: dict[str, dict[str, int]] = {}  # worker -> its clock shift (pigeon_lab.load.clock)

    def on_configured(environment: Any, msg: Any, **_: Any) -> None:
        configured[msg.node_id] = msg.data.get("error")
        if "clock" in msg.data:
            shifts[msg.node_id] = msg.data["clock"]

    def on_clock_ping(environment: Any, msg: Any, **_: Any) -> None:
        now = clock.Readings.now()
        pong = {**msg.data, "master_mono": now.mono_ns, "master_wall": now.wall_ns}
        runner.send_message("pigeon_clock_pong", pong, client_id=msg.node_id)

    # Locust's EventHook.add_listener is unannotated
    env.events.worker_report.add_listener(on_report)  # type: ignore[no-untyped-call]
    runner.register_message("pigeon_rows", on_rows)
    runner.register_message("pigeon_configured", on_configured)
    runner.register_message("pigeon_clock_ping", on_clock_ping)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if not config.master_bind:
            argv = [sys.executable, "-m", "pigeon_lab.load", "--worker"]
            argv += ["--master-host", "127.0.0.1", "--master-port", str(port)]
            for module in config.workload_modules:
                argv += ["--import", module]
            procs = [subprocess.Popen(argv) for _ in range(n_workers)]
        deadline = time.monotonic() + config.worker_wait_s
        while len(runner.clients.ready) < n_workers:
            if time.monotonic() > deadline:
                raise LoadError(
                    f"only {len(runner.clients.ready)} of {n_workers} workers "
                    f"connected within {config.worker_wait_s} s"
                )
            gevent.sleep(0.1)
        runner.send_message(
            "pigeon_config", {"config": config.model_dump_json(), "workers": n_workers}
        )
        deadline = time.monotonic() + config.worker_wait_s
        while len(configured) < n_workers and time.monotonic() < deadline:
            gevent.sleep(0.05)
        errors = {w: e for w, e in configured.items() if e}
        if errors or len(configured) < n_workers:
            detail = "; ".join(f"{w}: {e}" for w, e in errors.items()) or "no answer"
            raise LoadError(f"workers could not take the config: {detail}")
        progress = _Progress(config)
        runner.start(config.total_users, spawn_rate=_spawn_rate(config))
        _emit(progress.line(0, {}))  # the load has started: the fault clock aligns on it
        end = _end_of_load(config, progress.start)
        while time.monotonic() < end:
            gevent.sleep(min(1.0, max(0.0, end - time.monotonic())))
            _emit(progress.line(runner.user_count, _sum_counters(counters)))
        runner.send_message("pigeon_stop", {})
        deadline = time.monotonic() + config.drain_budget_s + 60
        while len(done) < n_workers and time.monotonic() < deadline:
            gevent.sleep(0.1)
        if len(done) < n_workers:
            raise LoadError(f"only {len(done)} of {n_workers} workers shipped their history")
        runner.quit()
        tables = [_chunk_table(c) for cs in chunks.values() for c in cs]
        table = pa.concat_tables(tables).cast(HISTORY_SCHEMA) if tables else rows_to_table([])
        total = _sum_counters(counters)
        return _summary(
            config, table, time.monotonic() - progress.start, total, clock_shifts=shifts
        )
    finally:
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _sum_counters(per_worker: dict[str, dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for counters in per_worker.values():
        for k, v in counters.items():
            total[k] = total.get(k, 0) + v
    return total


def run_worker(master_host: str, master_port: int, imports: tuple[str, ...] = ()) -> None:
    """A worker: waits for the config, runs its share of users, ships its history at stop.

    Its user classes are made when the config arrives (before the master spawns users:
    Locust looks them up by name in the environment at spawn time).
    """
    locust.runners.WORKER_REPORT_INTERVAL = 1.0
    import_modules(list(imports))
    slot = ContextSlot()
    env = Environment(user_classes=[])
    runner = env.create_worker_runner(master_host, master_port)
    pongs: gevent.queue.Queue[tuple[dict[str, Any], clock.Readings]] = gevent.queue.Queue()
    skew = clock.skew_ns()

    def on_config(environment: Any, msg: Any, **_: Any) -> None:
        try:
            config = LoadConfig.from_json(msg.data["config"])
            env.user_classes = user_classes(slot, config)
            ctx = LoadContext(
                config,
                Recorder(config.record),
                worker_index=runner.worker_index,
                workers=int(msg.data["workers"]),
                skew_ns=skew,
            )
        except Exception as exc:  # told to the master, which stops the run with it
            runner.send_message("pigeon_configured", {"error": f"{type(exc).__name__}: {exc}"})
            return
        gevent.spawn(_configured, ctx)  # the clock handshake waits for answers: not in here

    def _configured(ctx: LoadContext) -> None:
        ctx.clock = _measure_clock(runner, pongs, ctx.skew_ns)
        slot.set(ctx)
        runner.send_message("pigeon_configured", {"clock": dataclasses.asdict(ctx.clock)})

    def on_clock_pong(environment: Any, msg: Any, **_: Any) -> None:
        pongs.put((msg.data, clock.Readings.now(skew)))

    def on_stop(environment: Any, msg: Any, **_: Any) -> None:
        gevent.spawn(_ship)

    def _ship() -> None:
        ctx = slot.get() if slot.ready else None
        if ctx is None:
            runner.send_message(
                "pigeon_rows", {"data": _table_chunks(rows_to_table([]))[0], "last": True}
            )
            return
        _drain_local(ctx, ctx.config.drain_budget_s)
        parts = _table_chunks(clock.rebase(ctx.recorder.take_table(), *ctx.shifts()))
        for i, part in enumerate(parts):
            runner.send_message("pigeon_rows", {"data": part, "last": i == len(parts) - 1})
            gevent.sleep(0)

    def on_report(client_id: str, data: dict[str, Any]) -> None:
        if slot.ready:
            data["pigeon"] = dict(slot.get().counters)

    # Locust's EventHook.add_listener is unannotated
    env.events.report_to_master.add_listener(on_report)  # type: ignore[no-untyped-call]
    runner.register_message("pigeon_config", on_config)
    runner.register_message("pigeon_stop", on_stop)
    runner.register_message("pigeon_clock_pong", on_clock_pong)
    assert runner.greenlet is not None
    runner.greenlet.join()


def _measure_clock(
    runner: Any, pongs: gevent.queue.Queue[tuple[dict[str, Any], clock.Readings]], skew: int
) -> clock.ClockShift:
    """Ask the master for its clocks ``clock.SAMPLES`` times; the shift to them."""
    samples: list[clock.Sample] = []
    for i in range(clock.SAMPLES):
        sent = clock.Readings.now(skew)
        runner.send_message("pigeon_clock_ping", {"i": i})
        try:
            data, received = pongs.get(timeout=5.0)
        except gevent.queue.Empty:
            continue
        if data.get("i") == i:
            master = clock.Readings(int(data["master_mono"]), int(data["master_wall"]))
            samples.append(clock.Sample(sent, master, received))
    return clock.estimate(samples)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_main(config: LoadConfig) -> LoadSummary:
    """Run the load for ``config`` and print the final summary line."""
    config.out_dir.mkdir(parents=True, exist_ok=True)
    if config.workload.processes > 1 or config.master_bind:
        summary = run_master(config)
    else:
        summary = run_local(config)
    _emit(json.loads(summary.model_dump_json()))
    return summary
