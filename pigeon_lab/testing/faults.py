"""What the model of a correct run does to the system: its fault model and client policy."""

from __future__ import annotations

from dataclasses import dataclass

from pigeon_lab.load.client_algorithm import Policy

POLICY = Policy(
    ack_timeout=0.3,
    send_deadline=2.0,
    retry_base=0.05,
    retry_max=0.3,
    gap_timeout=0.05,
    reconnect_base=0.05,
    reconnect_max=0.4,
    sync_limit=8,
)
QUIET_S = 6.0  # after the faults heal: longer than the checkers' default settle time
DRAIN_S = 3.0


@dataclass(frozen=True)
class FaultModel:
    """What the network and the run do to a correct system (probabilities)."""

    p_drop: float = 0.1  # a live push is lost
    p_dup: float = 0.1  # a live push arrives twice
    p_reorder: float = 0.1  # a live push is held back by the server and emitted later
    p_disconnect: float = 0.03  # per client and send round: the connection breaks
    p_leave: float = 0.01  # per client and send round: it leaves one channel
    p_ack_loss: float = 0.05  # the ack of a send is lost (the send was done)
    p_refuse: float = 0.03  # a send is too large and refused (a definite failure)
    duplicate_ratio: float = 0.05  # an acked send is sent once more (Policy.duplicate_ratio)
