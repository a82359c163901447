"""The fault proxy's HTTP API, driven by toxiproxy-python and by plain HTTP for exact bodies.

Status codes, bodies and headers are Toxiproxy 2.x's (docs: shared design
note toxiproxy-api.md): errors `{"error","status"}` as text/plain with a
trailing newline, 201 for create and populate, 200 for a new toxic, 204 for
deletes and reset.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
import requests
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from pigeon_lab.cluster.process import ManagedProcess
from pigeon_lab.errors import ProxyError
from pigeon_lab.proxy.client import ProxyClient, ProxySpec
from tests.integration.proxy_harness import (
    TcpServer,
    echo,
    fault_proxy,
    proxy_client,
    round_trip_ms,
    tcp_server,
)

pytestmark = pytest.mark.integration
__all__ = ["fault_proxy", "proxy_client"]  # fixtures used by name


@pytest.fixture(scope="module")
def upstream() -> Iterator[TcpServer]:
    with tcp_server(echo) as server:
        yield server


@pytest.fixture
def base(proxy_client: ProxyClient) -> str:
    return proxy_client.url


@pytest.fixture
def toxiproxy(proxy_client: ProxyClient, fault_proxy: ManagedProcess) -> Toxiproxy:
    server = Toxiproxy()
    server.update_api_consumer("127.0.0.1", fault_proxy.port)
    return server


def error_of(resp: requests.Response) -> tuple[int, dict[str, object]]:
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.text.endswith("\n")
    return resp.status_code, json.loads(resp.text)


def new(base: str, name: str, upstream: str, **extra: object) -> requests.Response:
    body = {"name": name, "listen": "127.0.0.1:0", "upstream": upstream, **extra}
    return requests.post(f"{base}/proxies", json=body, timeout=5)


# toxiproxy-python, the library pigeon-lab drives the proxy with --------------------


def test_toxiproxy_python_drives_every_route(toxiproxy: Toxiproxy, upstream: TcpServer) -> None:
    assert toxiproxy.running()
    assert json.loads(toxiproxy.version())["version"].startswith("2.")
    proxy = toxiproxy.create(upstream=upstream.address, name="py-a")
    assert proxy.listen.startswith("127.0.0.1:") and not proxy.listen.endswith(":0")
    assert set(toxiproxy.proxies()) == {"py-a"}
    proxy.add_toxic(type="latency", attributes={"latency": 20, "jitter": 5})
    proxy.add_toxic(type="bandwidth", stream="upstream", name="bw", attributes={"rate": 1000})
    toxics = proxy.toxics()
    assert set(toxics) == {"latency_downstream", "bw"}
    assert toxics["bw"].stream == "upstream" and toxics["bw"].attributes == {"rate": 1000}
    assert proxy.get_toxic("latency_downstream").attributes == {"latency": 20, "jitter": 5}
    assert proxy.destroy_toxic("bw")
    with pytest.raises(NotFound):
        proxy.destroy_toxic("bw")
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="nonsense")
    with proxy.down():
        assert toxiproxy.get_proxy("py-a").enabled is False
    assert toxiproxy.get_proxy("py-a").enabled is True
    assert toxiproxy.reset()
    assert proxy.toxics() == {}
    assert toxiproxy.populate(
        [{"name": "py-b", "listen": "127.0.0.1:0", "upstream": upstream.address}]
    )
    assert set(toxiproxy.proxies()) == {"py-a", "py-b"}
    assert proxy.destroy()
    with pytest.raises(NotFound):
        proxy.destroy()


def test_toxiproxy_python_sees_duplicates_and_missing_proxies(
    toxiproxy: Toxiproxy, upstream: TcpServer
) -> None:
    toxiproxy.create(upstream=upstream.address, name="py-dup")
    body = {"name": "py-dup", "listen": "127.0.0.1:0", "upstream": upstream.address}
    with pytest.raises(ProxyExists):  # the server's 409, not the library's own check
        APIConsumer.post("/proxies", json=body)
    with pytest.raises(NotFound):
        APIConsumer.get("/proxies/nope")


# statuses and bodies ---------------------------------------------------------------


def test_create_show_index_and_delete(base: str, upstream: TcpServer) -> None:
    resp = new(base, "a", upstream.address)
    assert resp.status_code == 201 and resp.headers["Content-Type"] == "application/json"
    created = resp.json()
    assert list(created) == ["name", "listen", "upstream", "enabled", "toxics"]
    assert created["enabled"] is True and created["toxics"] == []
    assert requests.get(f"{base}/proxies/a", timeout=5).json() == created
    assert requests.get(f"{base}/proxies", timeout=5).json() == {"a": created}
    assert requests.delete(f"{base}/proxies/a", timeout=5).status_code == 204
    assert requests.get(f"{base}/proxies", timeout=5).json() == {}


def test_unknown_proxy_is_404_on_every_route(base: str) -> None:
    for method, path in [
        ("GET", "/proxies/nope"),
        ("POST", "/proxies/nope"),
        ("PATCH", "/proxies/nope"),
        ("DELETE", "/proxies/nope"),
        ("GET", "/proxies/nope/toxics"),
        ("POST", "/proxies/nope/toxics"),
        ("GET", "/proxies/nope/toxics/t"),
        ("DELETE", "/proxies/nope/toxics/t"),
    ]:
        resp = requests.request(method, base + path, json={}, timeout=5)
        assert error_of(resp) == (404, {"error": "proxy not found", "status": 404}), path


def test_duplicate_is_409(base: str, upstream: TcpServer) -> None:
    assert new(base, "dup", upstream.address).status_code == 201
    resp = new(base, "dup", upstream.address)
    assert error_of(resp) == (409, {"error": "proxy already exists", "status": 409})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "bad request body: EOF"),
        (b'{"name": "x", ', "bad request body: unexpected EOF"),
        (b"nonsense", "bad request body: invalid character"),
        (b'{"name": 5}', "bad request body: json: cannot unmarshal number into Go struct field"),
        (b"[1]", "bad request body: json: cannot unmarshal array into Go value"),
        (b'{"upstream": "127.0.0.1:1"}', "missing required field: name"),
        (b'{"name": "x"}', "missing required field: upstream"),
    ],
)
def test_bad_proxy_bodies_are_400(base: str, body: bytes, message: str) -> None:
    status, err = error_of(requests.post(f"{base}/proxies", data=body, timeout=5))
    assert status == 400 and err["status"] == 400
    assert str(err["error"]).startswith(message)


def test_busy_listen_port_is_500_with_the_bind_error(base: str, upstream: TcpServer) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        resp = requests.post(
            f"{base}/proxies",
            json={"name": "busy", "listen": f"127.0.0.1:{port}", "upstream": upstream.address},
            timeout=5,
        )
    status, err = error_of(resp)
    assert status == 500
    assert err["error"] == f"listen tcp 127.0.0.1:{port}: bind: address already in use"


def test_disabled_proxy_keeps_its_listen_until_enabled(base: str, upstream: TcpServer) -> None:
    created = new(base, "off", upstream.address, enabled=False).json()
    assert created["enabled"] is False and created["listen"] == "127.0.0.1:0"
    enabled = requests.patch(f"{base}/proxies/off", json={"enabled": True}, timeout=5).json()
    assert enabled["enabled"] is True and not enabled["listen"].endswith(":0")


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_proxy_update_is_partial(method: str, base: str, upstream: TcpServer) -> None:
    created = new(base, "upd", upstream.address).json()
    resp = requests.request(method, f"{base}/proxies/upd", json={"enabled": False}, timeout=5)
    assert resp.status_code == 200
    assert resp.json() == {**created, "enabled": False}
    resp = requests.request(
        method, f"{base}/proxies/upd", json={"upstream": "127.0.0.1:9", "enabled": True}, timeout=5
    )
    assert resp.json()["upstream"] == "127.0.0.1:9" and resp.json()["enabled"] is True


def toxic_body(**fields: object) -> dict[str, object]:
    return {"type": "latency", "attributes": {"latency": 10}, **fields}


def test_toxic_create_defaults_and_show(base: str, upstream: TcpServer) -> None:
    new(base, "t", upstream.address)
    resp = requests.post(f"{base}/proxies/t/toxics", json=toxic_body(), timeout=5)
    assert resp.status_code == 200
    assert resp.json() == {
        "attributes": {"latency": 10, "jitter": 0},
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1,
    }
    got = requests.get(f"{base}/proxies/t/toxics/latency_downstream", timeout=5)
    assert got.json() == resp.json()
    up = requests.post(
        f"{base}/proxies/t/toxics", json=toxic_body(stream="UpStream", toxicity=0.5), timeout=5
    ).json()
    assert up["name"] == "latency_UpStream" and up["toxicity"] == 0.5
    listed = requests.get(f"{base}/proxies/t/toxics", timeout=5).json()
    assert [t["name"] for t in listed] == [
        "latency_UpStream",
        "latency_downstream",
    ]  # upstream first
    proxy = requests.get(f"{base}/proxies/t", timeout=5).json()
    assert proxy["toxics"] == listed


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            toxic_body(stream="sideways"),
            400,
            "stream was invalid, can be either upstream or downstream",
        ),
        (toxic_body(type="nonsense"), 400, "invalid toxic type"),
        ({"attributes": {}}, 400, "invalid toxic type"),
        (
            toxic_body(attributes={"latency": "x"}),
            400,
            "bad request body: json: cannot unmarshal string",
        ),
        (
            toxic_body(attributes={"latency": 1.5}),
            400,
            "bad request body: json: cannot unmarshal number 1.5",
        ),
        (toxic_body(attributes=3), 400, "bad request body: json: cannot unmarshal number"),
        (toxic_body(name="first"), 409, "toxic already exists"),
    ],
)
def test_bad_toxics(
    base: str, upstream: TcpServer, body: object, status: int, message: str
) -> None:
    new(base, "bt", upstream.address)
    requests.post(f"{base}/proxies/bt/toxics", json=toxic_body(name="first"), timeout=5)
    got_status, err = error_of(requests.post(f"{base}/proxies/bt/toxics", json=body, timeout=5))
    assert got_status == status and err["status"] == status
    assert str(err["error"]).startswith(message)


def test_toxic_not_found_is_404(base: str, upstream: TcpServer) -> None:
    new(base, "nf", upstream.address)
    for method in ("GET", "POST", "PATCH", "DELETE"):
        resp = requests.request(method, f"{base}/proxies/nf/toxics/ghost", json={}, timeout=5)
        assert error_of(resp) == (404, {"error": "toxic not found", "status": 404}), method


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_toxic_update_changes_only_attributes_and_toxicity(
    method: str, base: str, upstream: TcpServer
) -> None:
    new(base, "tu", upstream.address)
    requests.post(
        f"{base}/proxies/tu/toxics",
        json=toxic_body(attributes={"latency": 10, "jitter": 3}),
        timeout=5,
    )
    url = f"{base}/proxies/tu/toxics/latency_downstream"
    body = {
        "attributes": {"latency": 99},
        "name": "renamed",
        "stream": "upstream",
        "type": "timeout",
    }
    resp = requests.request(method, url, json=body, timeout=5)
    assert resp.status_code == 200
    assert resp.json() == {
        "attributes": {"latency": 99, "jitter": 3},
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1,
    }
    toxicity = requests.request(method, url, json={"toxicity": 0.25}, timeout=5).json()
    assert toxicity["toxicity"] == 0.25 and toxicity["attributes"]["latency"] == 99


def test_populate_creates_keeps_and_reports_partial_errors(base: str, upstream: TcpServer) -> None:
    entries = [
        {"name": "p1", "listen": "127.0.0.1:0", "upstream": upstream.address},
        {"name": "p2", "listen": "127.0.0.1:0", "upstream": upstream.address, "enabled": False},
    ]
    resp = requests.post(f"{base}/populate", json=entries, timeout=5)
    assert resp.status_code == 201
    assert [p["name"] for p in resp.json()["proxies"]] == ["p1", "p2"]
    p1 = resp.json()["proxies"][0]
    # same listen and upstream: kept as it is (its toxics too)
    requests.post(f"{base}/proxies/p1/toxics", json=toxic_body(), timeout=5)
    again = requests.post(
        f"{base}/populate", json=[{**entries[0], "listen": p1["listen"]}], timeout=5
    ).json()
    assert again["proxies"][0]["listen"] == p1["listen"] and len(again["proxies"][0]["toxics"]) == 1
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        bad = [
            {"name": "p3", "listen": "127.0.0.1:0", "upstream": upstream.address},
            {"name": "p4", "listen": f"127.0.0.1:{port}", "upstream": upstream.address},
        ]
        partial = requests.post(f"{base}/populate", json=bad, timeout=5)
    assert partial.status_code == 500
    body = partial.json()
    assert body["status"] == 500 and "address already in use" in body["error"]
    assert [p["name"] for p in body["proxies"]] == ["p3"]
    invalid = requests.post(f"{base}/populate", json=[{"name": "p5"}], timeout=5)
    assert invalid.status_code == 400
    assert invalid.json() == {
        "error": "missing required field: upstream at proxy 1",
        "status": 400,
        "proxies": None,
    }
    assert "p5" not in requests.get(f"{base}/proxies", timeout=5).json()


def test_reset_enables_everything_and_removes_every_toxic(base: str, upstream: TcpServer) -> None:
    new(base, "r1", upstream.address)
    requests.post(f"{base}/proxies/r1/toxics", json=toxic_body(), timeout=5)
    requests.patch(f"{base}/proxies/r1", json={"enabled": False}, timeout=5)
    resp = requests.post(f"{base}/reset", timeout=5)
    assert resp.status_code == 204 and resp.content == b""
    after = requests.get(f"{base}/proxies/r1", timeout=5).json()
    assert after["enabled"] is True and after["toxics"] == []


def test_version_body_is_toxiproxys(base: str) -> None:
    resp = requests.get(f"{base}/version", timeout=5)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json;charset=utf-8"
    assert resp.text.startswith('{"version": "2.') and resp.text.endswith('"}\n')


def test_browsers_are_refused(base: str) -> None:
    resp = requests.get(f"{base}/proxies", headers={"User-Agent": "Mozilla/5.0 (X11)"}, timeout=5)
    assert resp.status_code == 403 and resp.text == "User agent not allowed\n"


def test_unknown_paths_and_methods(base: str) -> None:
    resp = requests.get(f"{base}/nope", timeout=5)
    assert resp.status_code == 404 and resp.text == "404 page not found\n"
    assert requests.put(f"{base}/proxies", timeout=5).status_code == 405


def test_client_maps_server_errors(proxy_client: ProxyClient, upstream: TcpServer) -> None:
    proxy_client.create("c1", upstream.address)
    with pytest.raises(ProxyError) as missing:
        proxy_client.get("ghost")
    assert missing.value.status == 404 and missing.value.proxy == "ghost"
    assert "proxy not found" in str(missing.value) and "'ghost'" in str(missing.value)
    with pytest.raises(ProxyError) as dup:
        proxy_client.create("c1", upstream.address)
    assert dup.value.status == 409 and dup.value.server_error == "proxy already exists"
    with pytest.raises(ProxyError) as bad:
        proxy_client.add_toxic("c1", "nonsense")
    assert bad.value.status == 400 and bad.value.server_error == "invalid toxic type"
    info = proxy_client.disable("c1")
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        proxy_client.update("c1", listen=f"127.0.0.1:{port}")
        with pytest.raises(ProxyError) as busy_err:  # toxiproxy-python's enable() ignores a 500
            proxy_client.enable("c1")
    assert busy_err.value.status == 500 and "address already in use" in str(busy_err.value)
    assert info.enabled is False


def test_client_typed_round_trip(proxy_client: ProxyClient, upstream: TcpServer) -> None:
    assert proxy_client.running() and proxy_client.version().startswith("2.")
    made = proxy_client.populate(
        [ProxySpec("c2", upstream.address), ProxySpec("c3", upstream.address)]
    )
    assert [p.name for p in made] == ["c2", "c3"] and made[0].port > 0
    toxic = proxy_client.add_toxic("c2", "latency", attributes={"latency": 30}, stream="upstream")
    assert toxic.name == "latency_upstream" and toxic.attributes == {"latency": 30, "jitter": 0}
    assert proxy_client.update_toxic("c2", toxic.name, toxicity=0.0).toxicity == 0.0
    assert proxy_client.toxics("c2") == [proxy_client.toxic("c2", toxic.name)]
    with socket.create_connection(("127.0.0.1", made[0].port), timeout=5) as sock:
        assert round_trip_ms(sock) < 1000  # toxicity 0: untouched
    with proxy_client.down("c2"):
        assert proxy_client.get("c2").enabled is False
    assert proxy_client.get("c2").enabled is True
    proxy_client.remove_toxic("c2", toxic.name)
    proxy_client.reset()
    assert set(proxy_client.proxies()) == {"c2", "c3"}


def test_client_reports_an_unreachable_server() -> None:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    client = ProxyClient(f"http://127.0.0.1:{port}", timeout_s=1.0)
    assert client.running() is False
    with pytest.raises(ProxyError, match="did not answer GET /proxies"):
        client.proxies()
