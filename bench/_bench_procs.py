"""Process helpers for bench/backend.py: start Redis, backend nodes and HAProxy on loopback,
each in its own process group, and stop every one of them on exit, error or Ctrl-C."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pigeon_lab.cluster.health import http_ready
from pigeon_lab.cluster.ports import free_port

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PR_SET_PDEATHSIG = 1


def proc_cpu_s(pid: int) -> float | None:
    """utime + stime of a process in seconds, from /proc (None if it is gone)."""
    try:
        st = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    f = st[st.rindex(")") + 2 :].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_kb(pid: int) -> int | None:
    """VmRSS of a process in KiB (None if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class Proc:
    """One started process (the leader of its own process group)."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    url: str = ""

    @property
    def pid(self) -> int:
        return int(self.popen.pid)


@dataclass
class Procs:
    """Every process this benchmark started; `stop_all` ends them by process group."""

    workdir: Path
    live: list[Proc] = field(default_factory=list)

    def spawn(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        url: str = "",
    ) -> Proc:
        """Start argv in a new session (own process group), output to <workdir>/<name>.log."""
        log = self.workdir / f"{name}.log"
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=str(cwd or REPO),
                env={**os.environ, **(env or {})},
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        p = Proc(name, popen, log, url)
        self.live.append(p)
        return p

    def stop(self, p: Proc, grace_s: float = 3.0) -> None:
        """SIGTERM the process group, SIGKILL it after grace_s."""
        if p.popen.poll() is None:
            _killpg(p.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.popen.wait(grace_s)
        _killpg(p.pid, signal.SIGKILL)  # also any child left in the group
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.popen.wait(5)
        if p in self.live:
            self.live.remove(p)

    def stop_all(self) -> None:
        """Stop everything still running, newest first."""
        for p in list(reversed(self.live)):
            self.stop(p, grace_s=1.0)

    # ---------------------------------------------------------------- services
    def redis(self, name: str) -> tuple[Proc, int]:
        """redis-server on a free loopback port, no persistence."""
        port = free_port()
        p = self.spawn(
            name,
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                HOST,
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.workdir),
            ],
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if _redis_cmd(port, "PING") == "+PONG":
                return p, port
            _check_alive(p)
            time.sleep(0.05)
        raise RuntimeError(f"{name} did not answer PING; see {p.log}")

    def python_node(self, name: str, redis_port: int, secret: str, extra: list[str]) -> Proc:
        """One reference_backend node (sys.executable -m reference_backend)."""
        port = free_port()
        argv = [
            sys.executable,
            "-m",
            "reference_backend",
            "--host",
            HOST,
            "--port",
            str(port),
            "--node-name",
            name.split("-", 1)[-1],
            "--redis-url",
            f"redis://{HOST}:{redis_port}/0",
            "--jwt-secret",
            secret,
            *extra,
        ]
        return self.spawn(name, argv, url=f"http://{HOST}:{port}")

    def node_peer(self, name: str, peer_dir: Path, redis_port: int, secret: str) -> Proc:
        """One Node.js peer server (node server.js with PORT/REDIS_URL/JWT_SECRET)."""
        port = free_port()
        env = {
            "PORT": str(port),
            "REDIS_URL": f"redis://{HOST}:{redis_port}",
            "JWT_SECRET": secret,
            "DRAIN_MS": "500",
        }
        return self.spawn(
            name,
            ["node", str(peer_dir / "server.js")],
            env=env,
            cwd=peer_dir,
            url=f"http://{HOST}:{port}",
        )

    def haproxy(self, name: str, backends: list[str]) -> Proc:
        """HAProxy (mode http, roundrobin, tunnel 1h, GET /readyz checks) in front of backends."""
        port = free_port()
        servers = "\n".join(
            f"  server n{i + 1} {u.removeprefix('http://')} check inter 500ms fall 2 rise 1"
            for i, u in enumerate(backends)
        )
        cfg = self.workdir / f"{name}.cfg"
        cfg.write_text(f"""global
  maxconn 8000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout tunnel 1h
frontend fe
  bind {HOST}:{port}
  default_backend be
backend be
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
{servers}
""")
        return self.spawn(name, ["haproxy", "-db", "-f", str(cfg)], url=f"http://{HOST}:{port}")

    def wait_ready(self, procs: list[Proc], timeout_s: float = 60.0) -> None:
        """Wait until GET <url>/readyz is 200 for each process."""
        deadline = time.monotonic() + timeout_s
        for p in procs:
            while not http_ready(p.url, timeout_s=1.0):
                _check_alive(p)
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{p.name} not ready after {timeout_s}s; see {p.log}")
                time.sleep(0.2)


def flushall(redis_port: int) -> None:
    """FLUSHALL on the benchmark's Redis."""
    if _redis_cmd(redis_port, "FLUSHALL") != "+OK":
        raise RuntimeError(f"FLUSHALL failed on port {redis_port}")


def wait_idle(pids: list[int], max_pct: float = 8.0, timeout_s: float = 30.0) -> float:
    """Wait until pids together use < max_pct of a core over 0.5 s; returns seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        a = sum(c or 0.0 for c in map(proc_cpu_s, pids))
        time.sleep(0.5)
        b = sum(c or 0.0 for c in map(proc_cpu_s, pids))
        if 100 * (b - a) / 0.5 < max_pct:
            break
    return time.monotonic() - t0


def _redis_cmd(port: int, cmd: str) -> str:
    """One inline Redis command; returns the first reply line ('' on connection failure)."""
    try:
        with socket.create_connection((HOST, port), timeout=5) as s:
            s.sendall(cmd.encode() + b"\r\n")
            return s.recv(256).split(b"\r\n", 1)[0].decode()
    except OSError:
        return ""


def _check_alive(p: Proc) -> None:
    if p.popen.poll() is not None:
        tail = p.log.read_text(errors="replace")[-2000:] if p.log.exists() else ""
        raise RuntimeError(f"{p.name} exited with {p.popen.returncode}; log tail:\n{tail}")


def _die_with_parent() -> None:
    """In the child: get SIGKILL if the benchmark itself dies without cleaning up."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _killpg(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
