"""The fault proxy's data path: throughput, added latency, concurrent connections.

Run by hand (not in the suite):

    .venv/bin/python bench/proxy.py              # about a minute
    .venv/bin/python bench/proxy.py --quick      # a smoke run, noisier

It starts the fault proxy (`python -m pigeon_lab.proxy`, as the supervisor does)
and a small uvloop echo/sink server in another process, then measures, in the
same run, through one proxy without toxics and directly on loopback:

1. throughput of one connection (1 MiB writes into a sink; until the sink has
   read everything and closed), rounds alternating direct and proxied;
2. round-trip latency of 64-byte request/response messages at 1,000 messages/s
   on one connection (paced, each waits for its echo); the proxy's added
   latency is proxied minus direct at p50 and p99;
3. 1,000 concurrent connections through one proxy, all open at once, each
   echoing one message: how many opened, echoed, were refused or failed;
4. the reference backend's deliveries/s with every link of its cluster proxied, as a
   ratio to the same cluster unproxied (`_proxy_backend.py`; `--no-backend` skips it).

Figures and the machine's load go to bench/results/proxy.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _proxy_backend import backend_ratio  # noqa: E402

from pigeon_lab.cluster.fault_proxy import proxy_process, proxy_url  # noqa: E402
from pigeon_lab.cluster.ports import free_port  # noqa: E402
from pigeon_lab.cluster.process import ManagedProcess  # noqa: E402
from pigeon_lab.proxy.client import ProxyClient  # noqa: E402

HOST = "127.0.0.1"
MIB = 1 << 20
MESSAGE = b"m" * 64


# the echo/sink server (`--serve`), in its own process ------------------------------


class _Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[attr-defined]


class _Sink(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> bool:
        return False  # close when the sender is done


def serve(echo_port: int, sink_port: int) -> None:
    import uvloop

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_server(_Echo, HOST, echo_port, backlog=4096)
        await loop.create_server(_Sink, HOST, sink_port, backlog=64)
        await asyncio.Event().wait()

    raise_fd_limit()
    uvloop.run(main())


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def port_open(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=0.5).close()
    except OSError:
        return False
    return True


# measurements -------------------------------------------------------------------


def throughput_mb_s(port: int, total: int) -> float:
    """Send `total` bytes to the sink at `port`; MB/s until the sink has read them and closed."""
    data = b"\0" * MIB
    with socket.create_connection((HOST, port)) as sock:
        start = time.perf_counter()
        sent = 0
        while sent < total:
            sock.sendall(data)
            sent += len(data)
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(65536):
            pass
        elapsed = time.perf_counter() - start
    return total / elapsed / 1e6


def paced_rtts_ms(port: int, rate: int, seconds: float) -> list[float]:
    """Round trips of 64-byte messages, one every 1/rate s, each waiting for its echo."""
    out: list[float] = []
    with socket.create_connection((HOST, port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            due = start + i / rate
            while (now := time.perf_counter()) < due:
                time.sleep(max(0.0, due - now - 0.0002))
            t0 = time.perf_counter()
            sock.sendall(MESSAGE)
            got = 0
            while got < len(MESSAGE):
                got += len(sock.recv(len(MESSAGE) - got))
            out.append((time.perf_counter() - t0) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class ConnResult:
    opened: int = 0
    echoed: int = 0
    refused: int = 0
    failed: int = 0
    open_s: float = 0.0
    proxy_fds: int = 0  # the proxy's open files while every connection is open
    errors: list[str] = field(default_factory=list)


async def concurrent(port: int, count: int, proxy_pid: int) -> ConnResult:
    """Open `count` connections at once, then echo one message on each while all are open."""
    result = ConnResult()
    start = time.perf_counter()

    async def open_one() -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        try:
            return await asyncio.wait_for(asyncio.open_connection(HOST, port), 30)
        except ConnectionRefusedError:
            result.refused += 1
        except (OSError, TimeoutError) as exc:
            result.failed += 1
            result.errors.append(repr(exc))
        return None

    conns = [c for c in await asyncio.gather(*(open_one() for _ in range(count))) if c]
    result.opened = len(conns)
    result.open_s = time.perf_counter() - start
    await asyncio.sleep(0.2)  # let the proxy dial the last upstreams
    result.proxy_fds = fd_count(proxy_pid)

    async def echo_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(MESSAGE)
            if await asyncio.wait_for(reader.readexactly(len(MESSAGE)), 30) == MESSAGE:
                result.echoed += 1
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            result.failed += 1
            result.errors.append(repr(exc))

    await asyncio.gather(*(echo_one(r, w) for r, w in conns))
    for _, writer in conns:
        writer.close()
    return result


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# the run --------------------------------------------------------------------------


def start(proc: ManagedProcess, timeout_s: float = 20) -> ManagedProcess:
    proc.start()
    proc.wait_ready(time.monotonic() + timeout_s)
    return proc


def machine() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"


def run(args: argparse.Namespace) -> list[str]:
    raise_fd_limit()
    lines: list[str] = []
    note = print
    run_dir = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    echo_port, sink_port = free_port(), free_port()
    servers = ManagedProcess(
        "echo-sink",
        "bench",
        [sys.executable, __file__, "--serve", str(echo_port), str(sink_port)],
        log_path=run_dir / "logs" / "echo-sink.log",
        cwd=run_dir,
        ready_check=lambda: port_open(echo_port) and port_open(sink_port),
    )
    proxy = proxy_process("fault-proxy", free_port(), run_dir)
    before = machine()
    note(f"machine before: {before}; logs in {run_dir}")
    try:
        start(servers)
        start(proxy)
        assert proxy.port is not None and proxy.pid is not None
        client = ProxyClient(proxy_url(proxy.port))
        sink = client.create("sink", f"{HOST}:{sink_port}").port
        echo = client.create("echo", f"{HOST}:{echo_port}").port

        total = args.mib * MIB
        direct_t, proxied_t = [], []
        for i in range(args.rounds):
            direct_t.append(throughput_mb_s(sink_port, total))
            proxied_t.append(throughput_mb_s(sink, total))
            note(
                f"throughput round {i + 1}: direct {direct_t[-1]:.0f} MB/s, "
                f"proxied {proxied_t[-1]:.0f} MB/s"
            )
        ratios = [p / d for p, d in zip(proxied_t, direct_t, strict=True)]

        direct_l: list[float] = []
        proxied_l: list[float] = []
        for i in range(args.rounds):
            direct_l += paced_rtts_ms(echo_port, 1000, args.latency_s)
            proxied_l += paced_rtts_ms(echo, 1000, args.latency_s)
            note(f"latency round {i + 1}: {len(direct_l)} + {len(proxied_l)} messages")

        fds_before = fd_count(proxy.pid)
        conns = asyncio.run(concurrent(echo, args.connections, proxy.pid))
        note(f"{args.connections} connections: {conns}")
        after = machine()

        med_d, med_p = statistics.median(direct_t), statistics.median(proxied_t)
        lines += [
            "# Fault proxy benchmark (`bench/proxy.py`)",
            "",
            f"Run {time.strftime('%Y-%m-%d %H:%M:%S')}; machine before: {before}; after: {after}. "
            "Everything (the proxy, the echo/sink server, this client) shares these cores.",
            "",
            "## Throughput of one connection, no toxic",
            "",
            f"{args.mib} MiB per round, {args.rounds} rounds alternating direct and proxied.",
            "",
            "| path | median MB/s | best MB/s | rounds |",
            "|---|---|---|---|",
            f"| direct loopback | {med_d:.0f} | {max(direct_t):.0f} | "
            f"{', '.join(f'{v:.0f}' for v in direct_t)} |",
            f"| through the proxy | {med_p:.0f} | {max(proxied_t):.0f} | "
            f"{', '.join(f'{v:.0f}' for v in proxied_t)} |",
            "",
            f"Proxied / direct: median of the rounds' ratios {statistics.median(ratios):.2f}x "
            f"(rounds {', '.join(f'{r:.2f}' for r in ratios)}); goal >= 0.5x and >= 200 MB/s, "
            "floor 50 MB/s.",
            "",
            "## Round-trip latency at 1,000 messages/s (64-byte request, 64-byte echo)",
            "",
            "| path | messages | p50 ms | p99 ms | max ms |",
            "|---|---|---|---|---|",
        ]
        for name, values in (("direct loopback", direct_l), ("through the proxy", proxied_l)):
            lines.append(
                f"| {name} | {len(values)} | {pct(values, 0.5):.3f} | {pct(values, 0.99):.3f} | "
                f"{max(values):.3f} |"
            )
        lines += [
            "",
            f"Added by the proxy: p50 {pct(proxied_l, 0.5) - pct(direct_l, 0.5):+.3f} ms, "
            f"p99 {pct(proxied_l, 0.99) - pct(direct_l, 0.99):+.3f} ms.",
            "",
            f"## {args.connections} concurrent connections through one proxy",
            "",
            "| opened | echoed | refused | failed | time to open all | proxy fds before / during |",
            "|---|---|---|---|---|---|",
            f"| {conns.opened} | {conns.echoed} | {conns.refused} | {conns.failed} | "
            f"{conns.open_s:.2f} s | {fds_before} / {conns.proxy_fds} |",
        ]
        if conns.errors:
            lines += ["", f"First errors: {conns.errors[:5]}"]
        proxy.terminate(5)
        servers.terminate(5)
        if not args.no_backend:
            lines += backend_ratio(args, note)
    finally:
        proxy.terminate(5)
        servers.terminate(5)
        proxy.close()
        servers.close()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--serve", nargs=2, type=int, metavar=("ECHO_PORT", "SINK_PORT"), help=argparse.SUPPRESS
    )
    parser.add_argument("--quick", action="store_true", help="smaller runs (noisier)")
    parser.add_argument("--mib", type=int, default=2048, help="MiB per throughput round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each measurement")
    parser.add_argument("--latency-s", type=float, default=5.0, help="seconds per latency round")
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--no-backend", action="store_true", help="skip the backend comparison")
    parser.add_argument("--backend-users", type=int, default=300)
    parser.add_argument("--backend-rate", type=float, default=5.0, help="sends/s per user")
    parser.add_argument("--backend-s", type=float, default=15.0, help="seconds of load a point")
    parser.add_argument("--backend-rounds", type=int, default=2)
    parser.add_argument("--md", type=Path, default=REPO / "bench" / "results" / "proxy.md")
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return
    if args.quick:
        args.mib, args.rounds, args.latency_s = 512, 2, 2.0
        args.backend_s, args.backend_rounds = 8.0, 1
    lines = run(args)
    args.md.parent.mkdir(parents=True, exist_ok=True)
    args.md.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"\nwritten to {args.md}")


if __name__ == "__main__":
    main()
