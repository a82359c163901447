"""Each toxic's effect, measured on loopback through the real fault proxy process.

Timing bounds are strict below (a toxic must add at least what it says) and
generous above (a busy 2-core machine may add a lot).
"""

from __future__ import annotations

import hashlib
import socket
import statistics
import threading
import time
from collections.abc import Iterator

import pytest

from pigeon_lab.proxy.client import ProxyClient, ProxyInfo
from tests.integration.proxy_harness import (
    TcpServer,
    close_after_first_byte,
    connect,
    echo,
    fault_proxy,
    proxy_client,
    read_until_closed,
    recv_exactly,
    round_trip_ms,
    sender,
    tcp_server,
)

pytestmark = pytest.mark.integration
__all__ = ["fault_proxy", "proxy_client"]  # fixtures used by name

SLACK_MS = 600.0  # what a busy machine may add on top of a delay


@pytest.fixture(scope="module")
def echo_server() -> Iterator[TcpServer]:
    with tcp_server(echo) as server:
        yield server


@pytest.fixture
def through(proxy_client: ProxyClient, echo_server: TcpServer) -> ProxyInfo:
    """A proxy in front of the echo server."""
    return proxy_client.create("echo", echo_server.address)


def closed_within(sock: socket.socket, timeout_s: float) -> str:
    """'eof' or 'reset' when the peer closes within the timeout (TimeoutError otherwise)."""
    sock.settimeout(timeout_s)
    return read_until_closed(sock)[1]


# latency --------------------------------------------------------------------------


@pytest.mark.parametrize("stream", ["downstream", "upstream"])
def test_latency_adds_at_least_its_ms(
    stream: str, proxy_client: ProxyClient, through: ProxyInfo
) -> None:
    proxy_client.add_toxic("echo", "latency", stream=stream, attributes={"latency": 120})
    with connect(through) as sock:
        rtts = [round_trip_ms(sock) for _ in range(4)]
    assert min(rtts) >= 120, rtts
    assert max(rtts) < 120 + SLACK_MS, rtts


def test_latency_on_both_streams_adds_up(proxy_client: ProxyClient, through: ProxyInfo) -> None:
    for stream in ("upstream", "downstream"):
        proxy_client.add_toxic("echo", "latency", stream=stream, attributes={"latency": 80})
    with connect(through) as sock:
        rtts = [round_trip_ms(sock) for _ in range(3)]
    assert min(rtts) >= 160, rtts
    assert max(rtts) < 160 + SLACK_MS, rtts


def test_jitter_stays_within_its_bounds(proxy_client: ProxyClient, through: ProxyInfo) -> None:
    proxy_client.add_toxic("echo", "latency", attributes={"latency": 100, "jitter": 60})
    with connect(through) as sock:
        rtts = [round_trip_ms(sock) for _ in range(16)]
    assert min(rtts) >= 40, rtts  # latency - jitter
    assert max(rtts) < 160 + SLACK_MS, rtts  # latency + jitter
    assert max(rtts) - min(rtts) > 10, rtts  # it does vary


def test_latency_is_measured_from_the_read_so_delays_do_not_pile_up(
    proxy_client: ProxyClient, through: ProxyInfo
) -> None:
    proxy_client.add_toxic("echo", "latency", attributes={"latency": 200})
    with connect(through) as sock:
        start = time.perf_counter()
        for i in range(10):
            sock.sendall(b"%02d" % i)
            time.sleep(0.01)
        got = recv_exactly(sock, 20)
        elapsed_ms = (time.perf_counter() - start) * 1000
    assert got == b"".join(b"%02d" % i for i in range(10))  # in order
    assert elapsed_ms >= 200
    assert elapsed_ms < 200 + 100 + SLACK_MS  # piling up would take 2,000 ms


# bandwidth ------------------------------------------------------------------------


def test_bandwidth_holds_its_rate_within_20_percent(proxy_client: ProxyClient) -> None:
    rate_kbps, size = 200, 300_000  # 1.5 s at 200 KB/s (KB = 1000 bytes, as in Toxiproxy)
    with tcp_server(sender(size)) as upstream:
        info = proxy_client.create("bw", upstream.address)
        proxy_client.add_toxic("bw", "bandwidth", attributes={"rate": rate_kbps})
        with connect(info) as sock:
            start = time.perf_counter()
            got = recv_exactly(sock, size)
            elapsed = time.perf_counter() - start
    assert len(got) == size
    observed_kbps = size / elapsed / 1000
    assert 0.8 * rate_kbps <= observed_kbps <= 1.2 * rate_kbps, observed_kbps


# closing toxics -------------------------------------------------------------------


def test_slow_close_delays_the_close(proxy_client: ProxyClient) -> None:
    with tcp_server(close_after_first_byte) as upstream:
        info = proxy_client.create("sc", upstream.address)
        proxy_client.add_toxic("sc", "slow_close", attributes={"delay": 500})
        with connect(info) as sock:
            start = time.perf_counter()
            sock.sendall(b"x")
            how = closed_within(sock, 5)
            elapsed_ms = (time.perf_counter() - start) * 1000
    assert how == "eof"
    assert 500 <= elapsed_ms < 500 + SLACK_MS


def test_timeout_0_holds_data_until_removed_then_closes(
    proxy_client: ProxyClient, through: ProxyInfo
) -> None:
    proxy_client.add_toxic("echo", "timeout", attributes={"timeout": 0})
    with connect(through) as sock:
        sock.sendall(b"lost")
        sock.settimeout(0.6)
        with pytest.raises(TimeoutError):  # nothing comes back, and the connection stays open
            sock.recv(100)
        sock.sendall(b"still open")
        proxy_client.remove_toxic("echo", "timeout_downstream")
        data, how = read_until_closed(_with_timeout(sock, 5))
    assert data == b""  # black-holed data is gone, not delivered late
    assert how in ("eof", "reset")


def _with_timeout(sock: socket.socket, timeout_s: float) -> socket.socket:
    sock.settimeout(timeout_s)
    return sock


def test_timeout_closes_after_that_long_idle(proxy_client: ProxyClient, through: ProxyInfo) -> None:
    proxy_client.add_toxic("echo", "timeout", stream="upstream", attributes={"timeout": 300})
    with connect(through) as sock:
        last = time.perf_counter()
        for _ in range(4):  # each chunk restarts the idle timer
            time.sleep(0.15)
            sock.sendall(b"x")
            last = time.perf_counter()
        how = closed_within(sock, 5)
        idle_ms = (time.perf_counter() - last) * 1000
    assert how in ("eof", "reset")
    assert 300 <= idle_ms < 300 + SLACK_MS


def test_reset_peer_resets_new_connections(proxy_client: ProxyClient, through: ProxyInfo) -> None:
    proxy_client.add_toxic("echo", "reset_peer", attributes={"timeout": 100})
    with connect(through) as sock:
        start = time.perf_counter()
        sock.sendall(b"ping")
        sock.settimeout(5)
        with pytest.raises(ConnectionResetError):
            sock.recv(100)
        elapsed_ms = (time.perf_counter() - start) * 1000
    assert 100 <= elapsed_ms < 100 + SLACK_MS


def test_reset_peer_closes_older_connections_normally(
    proxy_client: ProxyClient, through: ProxyInfo
) -> None:
    with connect(through) as sock:
        round_trip_ms(sock)
        proxy_client.add_toxic("echo", "reset_peer", attributes={"timeout": 0})
        sock.sendall(b"ping")
        assert closed_within(sock, 5) == "eof"  # SO_LINGER 0 is set only at accept


def test_limit_data_truncates_then_closes(proxy_client: ProxyClient) -> None:
    with tcp_server(sender(10_000)) as upstream:
        info = proxy_client.create("ld", upstream.address)
        proxy_client.add_toxic("ld", "limit_data", attributes={"bytes": 1234})
        with connect(info) as sock:
            data, how = read_until_closed(_with_timeout(sock, 5))
    assert len(data) == 1234 and how == "eof"


def test_slicer_splits_into_small_pieces(proxy_client: ProxyClient) -> None:
    with tcp_server(sender(4000)) as upstream:
        info = proxy_client.create("sl", upstream.address)
        proxy_client.add_toxic(
            "sl", "slicer", attributes={"average_size": 100, "size_variation": 20, "delay": 5000}
        )
        sizes: list[int] = []
        with connect(info) as sock:
            sock.settimeout(5)
            while sum(sizes) < 4000:
                data = sock.recv(65536)
                assert data, "closed early"
                sizes.append(len(data))
    assert sum(sizes) == 4000
    assert len(sizes) >= 15, sizes  # about 40 pieces; some may merge on a busy machine
    assert statistics.median(sizes) <= 120, sizes


# toxicity, live connections, enable/disable ---------------------------------------


def test_toxicity_0_leaves_connections_untouched_and_1_applies(
    proxy_client: ProxyClient, through: ProxyInfo
) -> None:
    proxy_client.add_toxic("echo", "latency", toxicity=0.0, attributes={"latency": 400})
    with connect(through) as sock:
        assert max(round_trip_ms(sock) for _ in range(3)) < 300
    proxy_client.update_toxic("echo", "latency_downstream", toxicity=1.0)
    with connect(through) as sock:
        assert round_trip_ms(sock) >= 400


def test_a_toxic_added_applies_to_an_existing_connection(
    proxy_client: ProxyClient, through: ProxyInfo
) -> None:
    with connect(through) as sock:
        assert round_trip_ms(sock) < 300
        proxy_client.add_toxic("echo", "latency", attributes={"latency": 200})
        assert round_trip_ms(sock) >= 200
        proxy_client.update_toxic("echo", "latency_downstream", attributes={"latency": 350})
        assert round_trip_ms(sock) >= 350
        proxy_client.remove_toxic("echo", "latency_downstream")
        assert min(round_trip_ms(sock) for _ in range(3)) < 150  # back on the direct path


def test_disable_refuses_and_closes_enable_accepts_with_toxics_kept(
    proxy_client: ProxyClient, through: ProxyInfo
) -> None:
    proxy_client.add_toxic("echo", "latency", attributes={"latency": 150})
    with connect(through) as sock:
        assert round_trip_ms(sock) >= 150
        proxy_client.disable("echo")
        assert closed_within(sock, 5) in ("eof", "reset")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", through.port), timeout=5)
    info = proxy_client.enable("echo")
    assert info.port == through.port and [t.name for t in info.toxics] == ["latency_downstream"]
    with connect(info) as sock:
        assert round_trip_ms(sock) >= 150


# the data path --------------------------------------------------------------------


def test_an_unreachable_upstream_closes_the_client(proxy_client: ProxyClient) -> None:
    with socket.create_server(("127.0.0.1", 0)) as gone:
        port = gone.getsockname()[1]
    info = proxy_client.create("nowhere", f"127.0.0.1:{port}")
    with connect(info) as sock:
        sock.sendall(b"hello?")
        assert closed_within(sock, 5) in ("eof", "reset")


@pytest.mark.parametrize("toxic", [None, "latency"])
def test_bulk_data_arrives_whole_and_in_order(
    toxic: str | None, proxy_client: ProxyClient, through: ProxyInfo
) -> None:
    """Flow control on the direct path and through a pump (a 1 ms latency)."""
    if toxic:
        proxy_client.add_toxic("echo", toxic, stream="upstream", attributes={"latency": 1})
    size = 24 * 1024 * 1024 if toxic is None else 4 * 1024 * 1024
    payload = bytes(range(256)) * (size // 256)
    received = hashlib.sha256()
    count = [0]

    def read(sock: socket.socket) -> None:
        while count[0] < size:
            data = sock.recv(1 << 20)
            if not data:
                return
            received.update(data)
            count[0] += len(data)

    with connect(through, timeout_s=30) as sock:
        reader = threading.Thread(target=read, args=(sock,))
        reader.start()
        sock.sendall(payload)
        reader.join(60)
    assert count[0] == size
    assert received.digest() == hashlib.sha256(payload).digest()
