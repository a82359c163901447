"""Faults on a cluster's proxied links: what the link fault kinds drive (``FaultEnv.links``).

Each method acts on every proxy that carries the given links (a front's one proxy may
carry several links without per-source proxies) and returns the heal that undoes it.
Applying is all or nothing: when one proxy refuses, what was done is undone before the
error is raised. A heal undoes everything it can and then raises what it could not.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Mapping, Sequence

from pigeon_lab.errors import ProxyError
from pigeon_lab.faults.netgraph import NetGraph
from pigeon_lab.proxy.client import ProxyClient

Undo = Callable[[], None]
STREAMS = ("upstream", "downstream")


class LinkFaults:
    """Cut, slow and break links through the fault proxy."""

    def __init__(self, client: ProxyClient, link_proxy: Mapping[str, str], graph: NetGraph):
        self.client = client
        self.link_proxy = dict(link_proxy)
        self.graph = graph
        self._ids = itertools.count(1)

    @property
    def links(self) -> list[str]:
        """The proxied links, in the graph's order."""
        return [n for n in self.graph.names if n in self.link_proxy]

    def proxies_of(self, links: Collection[str]) -> list[str]:
        """The proxies carrying ``links`` (each once); a link not proxied is an error."""
        missing = sorted(set(links) - set(self.link_proxy))
        if missing:
            raise ProxyError(f"link(s) not proxied in this cluster: {', '.join(missing)}")
        return list(dict.fromkeys(self.link_proxy[n] for n in self.graph.names if n in links))

    def cut(self, links: Collection[str], mode: str) -> Undo:
        """``drop``: a timeout 0 toxic both ways (bytes vanish, connections hang);
        ``reject``: the proxies disabled (connections closed, new ones refused)."""
        if mode == "reject":
            steps = [(self._disable, p) for p in self.proxies_of(links)]
            return _apply(steps)
        return self.toxic(links, "timeout", {"timeout": 0}, STREAMS)

    def toxic(
        self,
        links: Collection[str],
        type: str,
        attributes: Mapping[str, int],
        streams: Sequence[str] = STREAMS,
        toxicity: float = 1.0,
    ) -> Undo:
        """One toxic of ``type`` per proxy and stream; the heal removes them."""
        name = f"fault{next(self._ids)}-{type}"
        steps: list[tuple[Callable[[str], Undo], str]] = []
        for proxy in self.proxies_of(links):
            for stream in streams:

                def add(p: str, s: str = stream) -> Undo:
                    toxic = f"{name}-{s}"
                    self.client.add_toxic(
                        p, type, name=toxic, stream=s, toxicity=toxicity, attributes=attributes
                    )
                    return lambda: self.client.remove_toxic(p, toxic)

                steps.append((add, proxy))
        return _apply(steps)

    def _disable(self, proxy: str) -> Undo:
        self.client.disable(proxy)

        def enable() -> None:
            self.client.enable(proxy)

        return enable

    def heal_all(self) -> None:
        """Every proxy enabled, every toxic gone (``/reset``): the end of a run."""
        self.client.reset()


def _apply(steps: Sequence[tuple[Callable[[str], Undo], str]]) -> Undo:
    done: list[Undo] = []
    try:
        for step, proxy in steps:
            done.append(step(proxy))
    except Exception:
        _undo(done, raise_errors=False)
        raise
    return lambda: _undo(done, raise_errors=True)


def _undo(done: Sequence[Undo], *, raise_errors: bool) -> None:
    problems = []
    for undo in reversed(done):
        try:
            undo()
        except ProxyError as exc:
            problems.append(str(exc))
    if problems and raise_errors:
        raise ProxyError("; ".join(problems))


__all__ = ["STREAMS", "LinkFaults"]
