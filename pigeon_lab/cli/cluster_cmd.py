"""`pigeon-lab cluster up|status|down`: the bundled cluster by hand.

`up` runs in the foreground until Ctrl-C, or with `--detach` leaves a
supervisor process running that owns the cluster; both record it in the
state file (see pigeon_lab.cluster.state) that `status`, `down` and `token` read.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.console import Console
from rich.table import Table

from pigeon_lab.cluster.daemon import serve
from pigeon_lab.cluster.info import ClusterInfo
from pigeon_lab.cluster.process import log_tail
from pigeon_lab.cluster.spec import ClusterSpec, Durability
from pigeon_lab.cluster.state import (
    default_state_file,
    read_json_line,
    read_state,
    remove_state,
    stop_recorded,
    supervisor_alive,
)
from pigeon_lab.cluster.status import ProcessStatus, statuses_from_info
from pigeon_lab.cluster.supervisor import Cluster
from pigeon_lab.errors import ClusterError, ConfigError

app = typer.Typer(help="Start, inspect and stop the bundled cluster.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

StateFile = Annotated[
    Path | None,
    typer.Option(
        "--state-file",
        help="Where the running cluster is recorded "
        "\\[default: $PIGEON_LAB_STATE_FILE or ~/.pigeon-lab/cluster.json]",
    ),
]
STATE_COLOURS = {"alive": "green", "paused": "yellow", "dead": "red", "not-started": "dim"}


def _state_path(state_file: Path | None) -> Path:
    return (state_file or default_state_file()).expanduser().resolve()


def _status_table(rows: list[ProcessStatus], title: str) -> Table:
    table = Table(title=title)
    for col in ("name", "pid", "port", "state", "health"):
        table.add_column(col)
    for st in rows:
        colour = STATE_COLOURS.get(st.state, "white")
        table.add_row(
            st.name, str(st.pid or "-"), str(st.port or "-"), f"[{colour}]{st.state}[/]", st.health
        )
    return table


def _print_up(
    info: ClusterInfo, rows: list[ProcessStatus], as_json: bool, state_path: Path
) -> None:
    if as_json:
        typer.echo(info.to_json(indent=None))
        return
    console.print(_status_table(rows, f"pigeon-lab cluster ({info.run_dir})"))
    console.print(f"load balancer: [bold]{info.lb_url}[/]   redis: {info.redis_url}")
    console.print(f"state file: {state_path}   token: pigeon-lab token --workspace W --user U")


def _refuse_if_running(state_path: Path) -> None:
    if not state_path.exists():
        return
    try:
        info = read_state(state_path)
    except ClusterError:
        return
    if supervisor_alive(info):
        raise ClusterError(
            f"a cluster is already running (supervisor pid {info.supervisor_pid}, recorded in "
            f"{state_path}); stop it with `pigeon-lab cluster down` or pass another --state-file"
        )
    remove_state(state_path)


@app.command()
def up(
    nodes: Annotated[int, typer.Option(help="Backend nodes.")] = 3,
    replicas: Annotated[int, typer.Option(help="Redis replicas.")] = 1,
    sentinels: Annotated[
        int, typer.Option(help="Redis Sentinels (0: nodes use the primary directly).")
    ] = 3,
    durability: Annotated[str, typer.Option(help="fast | replicated")] = "fast",
    lb: Annotated[bool, typer.Option("--lb/--no-lb", help="HAProxy in front of the nodes.")] = True,
    sticky: Annotated[
        bool, typer.Option("--sticky/--no-sticky", help="HAProxy stickiness (off: round robin).")
    ] = True,
    run_dir: Annotated[
        Path | None, typer.Option(help="Logs and configs \\[default: reports/cluster-<time>].")
    ] = None,
    jwt_secret: Annotated[
        str | None, typer.Option(help="HS256 secret \\[default: random].")
    ] = None,
    backend_arg: Annotated[
        list[str] | None, typer.Option(help="Extra backend flag (repeatable).")
    ] = None,
    flaw: Annotated[
        list[str] | None, typer.Option(help="Deliberate backend flaw (repeatable).")
    ] = None,
    ready_timeout: Annotated[float, typer.Option(help="Seconds to wait for readiness.")] = 30.0,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print ClusterInfo as one JSON object.")
    ] = False,
    detach: Annotated[
        bool, typer.Option(help="Leave the cluster running in the background.")
    ] = False,
    state_file: StateFile = None,
) -> None:
    """Start a cluster: in the foreground until Ctrl-C, or detached with --detach."""
    if durability not in ("fast", "replicated"):
        raise ConfigError(f"{durability!r} is not fast or replicated", source="--durability")
    state_path = _state_path(state_file)
    _refuse_if_running(state_path)
    run_dir = (run_dir or Path("reports") / f"cluster-{time.strftime('%Y%m%d-%H%M%S')}").resolve()
    spec = ClusterSpec(
        run_dir=run_dir,
        nodes=nodes,
        replicas=replicas,
        sentinels=sentinels,
        durability=cast(Durability, durability),  # checked above
        load_balancer=lb,
        jwt_secret=jwt_secret,
        backend_args=tuple(backend_arg or ()),
        flaws=tuple(flaw or ()),
        ready_timeout_s=ready_timeout,
        lb_sticky=sticky,
    )
    if detach:
        info = _start_detached(spec, state_path)
        _print_up(info, statuses_from_info(info), json_out, state_path)
        return

    def on_ready(cluster: Cluster) -> None:
        _print_up(cluster.info, cluster.status(), json_out, state_path)
        if not json_out:
            console.print("[dim]Ctrl-C to stop[/]")

    try:
        serve(spec, state_path, on_ready)
    except KeyboardInterrupt:
        err.print("cluster stopped")


def _start_detached(spec: ClusterSpec, state_path: Path) -> ClusterInfo:
    """Spawn the supervisor daemon and wait for its one-line report."""
    spec.run_dir.mkdir(parents=True, exist_ok=True)
    log_path = spec.run_dir / "logs" / "supervisor.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pigeon_lab.cluster.daemon", "--state-file", str(state_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=spec.run_dir,
            start_new_session=True,
        )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(spec.to_dict()).encode())
    proc.stdin.close()
    try:
        line = _read_line(proc, spec.ready_timeout_s + 30.0)
    except BaseException:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        raise
    finally:
        proc.stdout.close()
    try:
        report: dict[str, Any] = read_json_line(line) if line else {}
    except (ValueError, TypeError):
        report = {}
    if report.get("ok"):
        return ClusterInfo.from_dict(report["info"])
    if report.get("error"):
        raise ClusterError(str(report["error"]))
    code = proc.poll()
    raise ClusterError(
        f"the detached supervisor failed to start (exit code {code}); "
        f"log {log_path}:\n{log_tail(log_path)}"
    )


def _read_line(proc: subprocess.Popen[bytes], timeout_s: float) -> str:
    """One line from the daemon's stdout, or '' on EOF; ClusterError on timeout."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + timeout_s
    while b"\n" not in buf:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ClusterError(f"the detached supervisor did not report within {timeout_s:.0f}s")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
    return buf.decode(errors="replace").split("\n", 1)[0]


@app.command()
def status(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    state_file: StateFile = None,
) -> None:
    """Show the processes of the running cluster: pid, port, alive/paused/dead, health."""
    state_path = _state_path(state_file)
    info = read_state(state_path)
    alive = supervisor_alive(info)
    rows = statuses_from_info(info)
    if json_out:
        payload = {
            "supervisor_pid": info.supervisor_pid,
            "supervisor_alive": alive,
            "lb_url": info.lb_url,
            "run_dir": info.run_dir,
            "processes": [r.to_dict() for r in rows],
        }
        typer.echo(json.dumps(payload))
        return
    console.print(_status_table(rows, f"pigeon-lab cluster ({info.run_dir})"))
    if not alive:
        err.print(
            f"[yellow]the supervisor (pid {info.supervisor_pid}) is gone; {state_path} is stale[/]"
        )


@app.command()
def down(
    state_file: StateFile = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the supervisor.")] = 20.0,
) -> None:
    """Stop the running cluster (all of its processes) and remove the state file."""
    state_path = _state_path(state_file)
    if not state_path.exists():
        err.print(f"no running cluster is recorded in {state_path}")
        return
    info = read_state(state_path)
    killed = stop_recorded(info, timeout)
    remove_state(state_path)
    if killed:
        err.print(f"[yellow]killed leftover processes: {', '.join(killed)}[/]")
    err.print(f"cluster down ({info.run_dir})")
