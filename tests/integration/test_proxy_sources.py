"""Proxies that share a listen address, one per source address (the fault proxy's extension).

A Redis replica or a Sentinel dials the address Redis advertised, the same for all of
them; each dials from its own loopback address, so the proxy tells their links apart by
the connection's source. Measured against the real proxy process on loopback.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from pigeon_lab.errors import ProxyError
from pigeon_lab.proxy.client import ProxyClient, ProxyInfo, ProxySpec
from tests.integration.proxy_harness import (
    TcpServer,
    echo,
    fault_proxy,
    proxy_client,
    read_until_closed,
    round_trip_ms,
    tcp_server,
)

pytestmark = pytest.mark.integration
__all__ = ["fault_proxy", "proxy_client"]  # fixtures used by name

SOURCE_A, SOURCE_B, OTHER = "127.0.9.1", "127.0.9.2", "127.0.9.3"


@pytest.fixture(scope="module")
def echo_server() -> Iterator[TcpServer]:
    with tcp_server(echo) as server:
        yield server


@pytest.fixture
def front(proxy_client: ProxyClient, echo_server: TcpServer) -> ProxyInfo:
    """A front (any source) and one proxy each for SOURCE_A and SOURCE_B on its address."""
    info = proxy_client.create("front", echo_server.address)
    proxy_client.create("a", echo_server.address, listen=info.listen, source=SOURCE_A)
    proxy_client.create("b", echo_server.address, listen=info.listen, source=SOURCE_B)
    return info


def dial(info: ProxyInfo, source: str, timeout_s: float = 5.0) -> socket.socket:
    sock = socket.create_connection(
        ("127.0.0.1", info.port), timeout=timeout_s, source_address=(source, 0)
    )
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def turned_away(info: ProxyInfo, source: str) -> str:
    """'refused' (no listener), 'reset' (accepted, then reset) or 'served' (echoed)."""
    try:
        sock = dial(info, source)
    except ConnectionRefusedError:
        return "refused"
    except ConnectionResetError:  # the reset may come before connect() returns
        return "reset"
    with sock:
        try:
            sock.sendall(b"x")
            return "served" if sock.recv(1) == b"x" else "reset"
        except (ConnectionResetError, BrokenPipeError):
            return "reset"


def test_each_source_takes_its_own_proxy(proxy_client: ProxyClient, front: ProxyInfo) -> None:
    proxies = proxy_client.proxies()
    assert {n: (p.listen, p.source) for n, p in proxies.items()} == {
        "front": (front.listen, ""),
        "a": (front.listen, SOURCE_A),
        "b": (front.listen, SOURCE_B),
    }
    proxy_client.add_toxic("a", "latency", attributes={"latency": 200})
    with dial(front, SOURCE_A) as a, dial(front, SOURCE_B) as b, dial(front, OTHER) as other:
        assert round_trip_ms(a) >= 200
        assert round_trip_ms(b) < 150 and round_trip_ms(other) < 150


def test_a_disabled_source_is_reset_and_never_falls_through(
    proxy_client: ProxyClient, front: ProxyInfo
) -> None:
    with dial(front, SOURCE_A) as a:
        round_trip_ms(a)
        proxy_client.disable("a")
        a.settimeout(5)
        assert read_until_closed(a)[1] in ("eof", "reset")
    assert turned_away(front, SOURCE_A) == "reset"  # the shared socket accepts, then resets
    with dial(front, SOURCE_B) as b, dial(front, OTHER) as other:
        round_trip_ms(b)
        round_trip_ms(other)
    proxy_client.enable("a")
    with dial(front, SOURCE_A) as a:
        round_trip_ms(a)


def test_all_disabled_refuses_and_a_deleted_source_goes_to_the_front(
    proxy_client: ProxyClient, front: ProxyInfo
) -> None:
    for name in ("front", "a", "b"):
        proxy_client.disable(name)
    assert turned_away(front, OTHER) == "refused"
    proxy_client.enable("front")
    proxy_client.delete("a")
    assert turned_away(front, SOURCE_A) == "served"  # no proxy of its own: the front takes it
    assert turned_away(front, SOURCE_B) == "reset"  # still disabled; nobody else takes it


def test_one_source_twice_on_an_address_is_refused_like_a_busy_port(
    proxy_client: ProxyClient, front: ProxyInfo, echo_server: TcpServer
) -> None:
    with pytest.raises(ProxyError) as err:
        proxy_client.create("a2", echo_server.address, listen=front.listen, source=SOURCE_A)
    assert err.value.status == 500 and "address already in use" in str(err.value)
    with pytest.raises(ProxyError) as err:
        proxy_client.create("bad", echo_server.address, source="not-an-ip")
    assert err.value.status == 400 and "not an IP address" in str(err.value)


def test_populate_and_update_carry_the_source(
    proxy_client: ProxyClient, echo_server: TcpServer
) -> None:
    (first,) = proxy_client.populate([ProxySpec("p", echo_server.address)])
    (second,) = proxy_client.populate(
        [ProxySpec("q", echo_server.address, first.listen, source=SOURCE_A)]
    )
    assert second.listen == first.listen and second.source == SOURCE_A
    moved = proxy_client.update("q", listen="127.0.0.1:0")
    assert moved.port != first.port and moved.source == SOURCE_A
    assert turned_away(moved, OTHER) == "reset"  # alone on its new address, still one source
    assert turned_away(moved, SOURCE_A) == "served"
