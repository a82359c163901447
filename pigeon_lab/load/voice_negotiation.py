"""Perfect negotiation between two sessions, signalling only (no media): pure.

The WebRTC pattern (webrtc/samples "perfect negotiation"): either side may offer at any time;
when two offers cross (glare) the *polite* side rolls its own back and answers the other's,
the *impolite* side ignores the incoming offer (and the candidates of that offer). Here the
polite side is the one with the smaller member id. Every description carries a negotiation
number ``neg``; the two sides draw from disjoint numbers (the smaller member id even, the
other odd), so crossed offers never share one and a candidate names its description.

A negotiation is done ("connected") when both sides hold the same negotiation as local and
remote description and each has sent and received its end of candidates.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Out:
    """A signal to send: ``kind`` (offer, answer, candidate, eoc, bye) of negotiation ``neg``."""

    kind: str
    neg: int
    payload: str


@dataclass(frozen=True)
class Step:
    """Something worth recording: ``state`` (offer_sent, answered, connected, glare_rollback,
    glare_ignored, stale_answer, stale_candidate, ignored_candidate) and its negotiation."""

    state: str
    neg: int
    latency_s: float | None = None  # answered: offer to answer; connected: from the start


def pc_name(a: str, a_inc: int, b: str, b_inc: int) -> str:
    """The name both sessions give their connection: ``<lo>.<inc>~<hi>.<inc>``."""
    (x, xi), (y, yi) = sorted(((a, a_inc), (b, b_inc)))
    return f"{x}.{xi}~{y}.{yi}"


@dataclass
class Negotiation:
    """One side of a peer connection (``me`` and ``peer`` are member ids)."""

    me: str
    peer: str
    candidates: int = 2
    neg: int = -1  # the highest negotiation number seen or used on this connection
    local_offer: int | None = None  # our offer waiting for an answer (have-local-offer)
    local: int | None = None  # negotiation of the current local description
    remote: int | None = None  # ... and of the remote one
    ignored: int | None = None  # the crossed offer the impolite side ignored
    eoc_in: bool = False
    eoc_out: bool = False
    connected_neg: int | None = None
    started: float | None = None  # when the current negotiation began (monotonic s)
    offered_at: float | None = None
    steps: list[Step] = field(default_factory=list)

    @property
    def polite(self) -> bool:
        return self.me < self.peer

    @property
    def parity(self) -> int:
        return 0 if self.polite else 1

    @property
    def stable(self) -> bool:
        return self.local_offer is None

    def _next_neg(self) -> int:
        n = self.neg + 1
        if n % 2 != self.parity:
            n += 1
        self.neg = n
        return n

    def _trickle(self, neg: int) -> list[Out]:
        outs = [
            Out(
                "candidate",
                neg,
                f"candidate:{neg}:{i} 1 udp 2122260223 10.0.0.1 {5000 + i} typ host",
            )
            for i in range(self.candidates)
        ]
        self.eoc_out = True
        return [*outs, Out("eoc", neg, "")]

    def offer(self, now: float) -> list[Out]:
        """negotiationneeded: a new offer (an ICE restart when one was done before)."""
        n = self._next_neg()
        self.local_offer, self.local, self.eoc_out, self.eoc_in = n, n, False, False
        self._begin(now)
        self.offered_at = now
        self.steps.append(Step("offer_sent", n))
        return [Out("offer", n, f"v=0 o={self.me} {n} IN IP4 sdp"), *self._trickle(n)]

    def receive(self, kind: str, neg: int, now: float) -> list[Out]:
        """A signal from the peer, in order: what to send back."""
        self.neg = max(self.neg, neg)
        if kind == "offer":
            return self._on_offer(neg, now)
        if kind == "answer":
            if self.local_offer != neg:
                self.steps.append(Step("stale_answer", neg))
                return []
            self.local_offer, self.remote = None, neg
            rtt = None if self.offered_at is None else now - self.offered_at
            self.steps.append(Step("answered", neg, rtt))
            self._check_connected(now)
            return []
        if kind in ("candidate", "eoc"):
            if neg == self.ignored:
                self.steps.append(Step("ignored_candidate", neg))
                return []
            if neg != self.remote and neg != self.local_offer:
                self.steps.append(Step("stale_candidate", neg))
                return []
            if kind == "eoc" and neg == self.remote:
                self.eoc_in = True
                self._check_connected(now)
            return []
        if kind == "bye":
            self.local_offer = self.local = self.remote = None
        return []

    def _on_offer(self, neg: int, now: float) -> list[Out]:
        if self.local_offer is not None:  # glare
            if not self.polite:
                self.ignored = neg
                self.steps.append(Step("glare_ignored", neg))
                return []
            self.steps.append(Step("glare_rollback", self.local_offer))
            self.local_offer = None
        self._begin(now)
        self.remote, self.local, self.eoc_in = neg, neg, False
        return [Out("answer", neg, f"v=0 o={self.me} {neg} IN IP4 answer"), *self._trickle(neg)]

    def _begin(self, now: float) -> None:
        """A negotiation starts (unless one is still under way: its start stands)."""
        if self.started is None or self.connected_neg is not None:
            self.started = now
        self.connected_neg = None

    def _check_connected(self, now: float) -> None:
        if (
            self.local_offer is None
            and self.remote is not None
            and self.remote == self.local
            and self.eoc_in
            and self.eoc_out
            and self.connected_neg != self.remote
        ):
            self.connected_neg = self.remote
            took = None if self.started is None else now - self.started
            self.steps.append(Step("connected", self.remote, took))

    def take_steps(self) -> list[Step]:
        steps, self.steps = self.steps, []
        return steps


__all__ = ["Negotiation", "Out", "Step", "pc_name"]
