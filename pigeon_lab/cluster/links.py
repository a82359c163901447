"""The cluster's links through the fault proxy: which proxies it needs and how each
process dials them (docs/architecture.md, "Links").

The supervisor calls in, in its start order: ``process`` (the proxy server, first), then
``server`` for each Redis server and Sentinel as its port is chosen (extra config lines
back), ``node_args`` for each node, ``lb_port`` for each node behind HAProxy, and
``client_urls`` last. Proxies are created as soon as their upstream's port is known;
a proxy only dials its upstream when a client connects, so they exist before it starts.

- Redis servers and Sentinels dial each other at the address Redis advertises, one per
  destination. A destination with a proxied link into it from another Redis server or
  Sentinel advertises a *front* (``replica-announce-*``, ``sentinel announce-*``, the
  Sentinels' ``monitor`` line): a proxy port whose connections are told apart by the
  source address each process dials from (``bind-source-addr``). Each proxied link has
  its proxy there (``source``: the embedded server's extension); the front's own proxy
  takes any other source. A real toxiproxy-server has no sources: then every link into
  a front is the front's one proxy (the scenario validator refuses faults that would
  spill over onto other links).
- A node dials its own proxy for each proxied link, through the backend's
  ``--redis-address-map`` (advertised address -> its proxy, or the real port).
- HAProxy's server lines (and so its health checks) name the node's proxy; each client
  group gets the URL of its own proxy.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pigeon_lab.cluster.fault_proxy import proxy_process, proxy_url, toxiproxy_server_process
from pigeon_lab.cluster.link_faults import LinkFaults
from pigeon_lab.cluster.ports import HOST, free_port
from pigeon_lab.cluster.process import ManagedProcess
from pigeon_lab.cluster.spec import ClusterSpec
from pigeon_lab.errors import ConfigError, ProxyError
from pigeon_lab.faults.netgraph import NetGraph, is_sentinel
from pigeon_lab.proxy.client import ProxyClient

EMBEDDED = "embedded"
PROCESS_NAME = "fault-proxy"


def graph_of(spec: ClusterSpec) -> NetGraph:
    return NetGraph(
        spec.nodes, spec.replicas, spec.sentinels, spec.load_balancer, spec.client_groups
    )


class LinkWiring:
    """The proxies of one cluster and the addresses its processes dial."""

    def __init__(self, spec: ClusterSpec) -> None:
        self.spec = spec
        self.graph = graph_of(spec)
        unknown = sorted(set(spec.proxied_links) - set(self.graph.names))
        if unknown:
            raise ConfigError(
                f"no link {', '.join(unknown)} in this topology; links: "
                + ", ".join(self.graph.names),
                source="cluster spec",
                field="proxied_links",
            )
        self.proxied = [self.graph.by_name[n] for n in self.graph.names if n in spec.proxied_links]
        self.fronts = {x.dst for x in self.proxied if NetGraph.source_split(x)}
        self.real: dict[str, int] = {}
        self.announced: dict[str, int] = {}
        self.link_proxy: dict[str, str] = {}  # link name -> the proxy that carries it
        self.split = spec.fault_proxy == EMBEDDED  # sources on shared addresses
        self.client: ProxyClient | None = None
        self.url: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.proxied)

    # the server ----------------------------------------------------------------------
    def process(self, run_dir: Path) -> ManagedProcess | None:
        """The proxy server to start first (None: a server given by URL is used)."""
        kind = self.spec.fault_proxy
        if kind.startswith("http"):
            self.url = kind
            return None
        port = free_port()
        self.url = proxy_url(port)
        if kind == EMBEDDED:
            return proxy_process(PROCESS_NAME, port, run_dir, seed=self.spec.proxy_seed)
        return toxiproxy_server_process(PROCESS_NAME, port, run_dir)

    def connect(self) -> None:
        """Reach the (ready) server; a server that is not pigeon-lab's has no sources."""
        assert self.url is not None
        self.client = ProxyClient(self.url)
        version = self.client.version()
        self.split = self.split or version.endswith("+pigeon-lab")

    def faults(self) -> LinkFaults:
        """What link faults drive (``FaultEnv.links``)."""
        assert self.client is not None
        return LinkFaults(self.client, dict(self.link_proxy), self.graph)

    def _create(
        self, name: str, upstream: int, *, listen: str = f"{HOST}:0", source: str = ""
    ) -> int:
        assert self.client is not None
        try:
            info = self.client.create(name, f"{HOST}:{upstream}", listen=listen, source=source)
        except ProxyError as exc:
            raise ProxyError(f"cannot wire link {name}: {exc}", proxy=name) from exc
        return info.port

    # Redis servers and Sentinels -------------------------------------------------------
    def server(self, name: str, port: int) -> list[str]:
        """Register ``name``'s real port, create its front; its extra config lines."""
        self.real[name] = port
        self.announced[name] = port
        if name in self.fronts:
            front = f"front-{name}"
            self.announced[name] = fport = self._create(front, port)
            for link in self.proxied:
                if link.dst != name or not NetGraph.source_split(link):
                    continue
                if self.split:
                    listen, ip = f"{HOST}:{fport}", self.graph.source_ip(link.src)
                    self._create(link.name, port, listen=listen, source=ip)
                    self.link_proxy[link.name] = link.name
                else:
                    self.link_proxy[link.name] = front
        if not self.active:
            return []
        lines = [f"bind-source-addr {self.graph.source_ip(name)}"] if self.split else []
        if is_sentinel(name):
            announce = ["sentinel announce-ip", "sentinel announce-port"]
        else:
            announce = ["replica-announce-ip", "replica-announce-port"]
        return [*lines, f"{announce[0]} {HOST}", f"{announce[1]} {self.announced[name]}"]

    def advertised(self, name: str) -> int:
        """The port others dial ``name`` at (its front, or its real port)."""
        return self.announced[name]

    def name_of(self, address: str) -> str | None:
        """The process advertised at ``host:port`` (Sentinel's answers), or None."""
        port = int(address.rsplit(":", 1)[1])
        return next((n for n, p in self.announced.items() if p == port), None)

    # nodes, HAProxy, clients -----------------------------------------------------------
    def node_args(self, node: str) -> list[str]:
        """``--redis-address-map`` for ``node``: each advertised address -> its own proxy
        (created here) or the real port."""
        pairs = []
        for name, port in self.announced.items():
            link, target = f"{node}->{name}", self.real[name]
            if any(x.name == link for x in self.proxied):
                target = self._create(link, self.real[name])
                self.link_proxy[link] = link
            if target != port:
                pairs.append(f"{HOST}:{port}={HOST}:{target}")
        return ["--redis-address-map", ",".join(pairs)] if pairs else []

    def lb_port(self, node: str, port: int) -> int:
        """The port HAProxy's server line for ``node`` names (its proxy, or the node)."""
        return self._through(f"haproxy->{node}", port)

    def client_urls(self, entries: Mapping[str, int]) -> dict[str, list[str]]:
        """Each client group's URLs into ``entries`` (HAProxy, or every node), through
        the group's proxies where its links are proxied."""
        return {
            group: [
                f"http://{HOST}:{self._through(f'{group}->{e}', p)}" for e, p in entries.items()
            ]
            for group in self.graph.groups
        }

    def _through(self, link: str, port: int) -> int:
        if not any(x.name == link for x in self.proxied):
            return port
        self.link_proxy[link] = link
        return self._create(link, port)


__all__ = ["EMBEDDED", "LinkWiring", "graph_of"]
