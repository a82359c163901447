"""The bundled target: the reference cluster of a scenario's topology, up for one run."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pigeon_lab.cluster import BackendOptions, Cluster, ClusterSpec
from pigeon_lab.events import Phase, RunEvents, TargetReady
from pigeon_lab.issuers import SECRET_ENV
from pigeon_lab.scenario.model import Scenario, Topology
from pigeon_lab.targets.base import Target


def cluster_spec(
    topology: Topology,
    run_dir: Path,
    jwt_secret: str,
    *,
    proxied_links: tuple[str, ...] = (),
    seed: int | None = None,
) -> ClusterSpec:
    """The supervisor's spec for a scenario's topology; ``proxied_links`` go through the
    fault proxy (``Scenario.proxied_links()``: the faults' links and the topology's)."""
    b = topology.backend
    return ClusterSpec(
        run_dir=run_dir,
        nodes=topology.nodes,
        replicas=topology.redis.replicas,
        sentinels=topology.redis.sentinels,
        durability=topology.durability,
        load_balancer=topology.has_load_balancer,
        jwt_secret=jwt_secret,
        backend=BackendOptions(
            retention=b.retention,
            dedupe_ttl_s=b.dedupe_ttl_s,
            max_body=b.max_body,
            ping_interval_s=b.ping_interval_s,
            ping_timeout_s=b.ping_timeout_s,
            cutoff_disconnect_s=b.cutoff_disconnect_s,
        ),
        flaws=tuple(b.flaws),
        proxied_links=proxied_links,
        client_groups=topology.group_names,
        fault_proxy=topology.fault_proxy,
        proxy_seed=seed,
        lb_sticky=topology.sticky_sessions,
        extra_env=b.voice.env(),
    )


@contextmanager
def bundled_target(scenario: Scenario, run_dir: Path, events: RunEvents) -> Iterator[Target]:
    """Bring the cluster up (phase ``cluster``), yield it, tear it down (``teardown``),
    also on errors and Ctrl-C."""
    # a distributed run's workers mint tokens with the secret they were started with
    secret = os.environ.get(SECRET_ENV) or secrets.token_hex(16)
    spec = cluster_spec(
        scenario.topology,
        run_dir,
        secret,
        proxied_links=scenario.proxied_links(),
        seed=scenario.seed,
    )
    phase = events.begin(Phase.CLUSTER, f"{spec.nodes} nodes")
    try:
        with Cluster.start(spec) as cluster:
            phase.end()
            info = cluster.info
            events.fire(TargetReady(info.lb_url, "bundled", info.to_dict(include_secret=False)))
            # without a load balancer the "clients" entries are every node: users spread over them
            try:
                first, *more = info.client_urls["clients"]
                groups = {g: tuple(u) for g, u in info.client_urls.items() if g != "clients"}
                yield Target(
                    "bundled",
                    first,
                    tuple(more),
                    secret=info.jwt_secret,
                    cluster=cluster,
                    group_urls=groups,
                )
            finally:  # leaving the cluster's block tears it down (it never raises)
                phase = events.begin(Phase.TEARDOWN)
        phase.end()
    except BaseException as exc:
        phase.end(None if phase.phase is Phase.TEARDOWN else exc)
        raise


__all__ = ["bundled_target", "cluster_spec"]
