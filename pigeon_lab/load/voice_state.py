"""What a voice member knows of its room, kept in order: the roster view and its mailbox.

Pure (no I/O, no clock): the member feeds it acks and pushes and records what it answers.

``RosterView``: one version (``ver``) orders every roster and floor change of a room. A
snapshot (a ``vjoin`` or ``vsync`` ack) sets the view at its version; a push at ``ver + 1`` is
applied, an older one dropped, a newer one buffered until the gap is filled (by the missing
push, or by a resync the member asks for when ``gap`` stays set). Pushes that arrive while a
join is in flight are kept and applied over the snapshot when it comes. A push without a
version (a server that does not number them) can only be applied as it comes.

``Mailbox``: the session's signals are numbered ``1, 2, ...`` (``mseq``) by the server; they
are delivered in that order exactly once, whatever mix of pushes and resync pages brings them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pigeon_lab.protocol.voice import FloorPush, FloorState, RosterPush, Signal, Snapshot

Push = RosterPush | FloorPush


@dataclass(frozen=True)
class Applied:
    """One change the view took: a push (``push``) or a snapshot (``members``)."""

    ver: int | None
    push: Push | None = None
    members: dict[str, int] | None = None


@dataclass
class RosterView:
    """The room as one member sees it: members (member -> inc), the floor, the version."""

    ver: int = 0
    members: dict[str, int] = field(default_factory=dict)
    floor: FloorState = field(default_factory=FloorState)
    synced: bool = False  # a snapshot has been applied
    pending: dict[int, Push] = field(default_factory=dict)
    stale: int = 0  # pushes dropped as older than the view
    gaps: int = 0  # times a newer push had to wait (repaired by a later push or a resync)

    @property
    def gap(self) -> bool:
        """A newer push waits for a missing one."""
        return self.synced and bool(self.pending)

    def reset(self) -> None:
        """A new session: forget the room (the next snapshot sets it afresh)."""
        self.ver, self.members, self.floor = 0, {}, FloorState()
        self.synced, self.pending = False, {}

    def snapshot(self, snap: Snapshot) -> list[Applied]:
        """Apply a snapshot (unless older than the view), then the pushes it makes current."""
        if snap.ver is not None and self.synced and snap.ver < self.ver:
            return []
        self.members = {m.member: m.inc for m in snap.members}
        self.floor = snap.floor
        self.ver = snap.ver if snap.ver is not None else self.ver
        self.synced = True
        out = [Applied(snap.ver, members=dict(self.members))]
        for v in [v for v in self.pending if 0 <= v <= self.ver]:
            del self.pending[v]
        return out + self._drain()

    def push(self, p: Push) -> list[Applied]:
        """A live push: applied now, dropped, or kept until its turn."""
        if p.ver is None:  # unnumbered: nothing to order it by
            return [self._apply(p)] if self.synced else self._keep_unnumbered(p)
        if not self.synced:
            self.pending[p.ver] = p
            return []
        if p.ver <= self.ver:
            self.stale += 1
            return []
        if p.ver > self.ver + 1:
            if p.ver not in self.pending:
                self.gaps += 1
            self.pending[p.ver] = p
            return []
        return [self._apply(p), *self._drain()]

    def _keep_unnumbered(self, p: Push) -> list[Applied]:
        # before the snapshot an unnumbered push cannot be placed: keep it to apply after
        self.pending[-len(self.pending) - 1] = p
        return []

    def _drain(self) -> list[Applied]:
        out = []
        unnumbered = sorted((v for v in self.pending if v < 0), reverse=True)
        for v in unnumbered:
            out.append(self._apply(self.pending.pop(v)))
        while self.ver + 1 in self.pending:
            out.append(self._apply(self.pending.pop(self.ver + 1)))
        return out

    def _apply(self, p: Push) -> Applied:
        if p.ver is not None:
            self.ver = p.ver
        if isinstance(p, RosterPush):
            if p.op == "join":
                self.members[p.member.member] = p.member.inc
            elif self.members.get(p.member.member) == p.member.inc:
                del self.members[p.member.member]
        else:
            self.floor = p.floor
        return Applied(p.ver, push=p)


@dataclass
class Mailbox:
    """One session's signals in ``mseq`` order, each delivered once."""

    last: int = 0
    pending: dict[int, Signal] = field(default_factory=dict)
    duplicates: int = 0
    gaps: int = 0

    @property
    def gap(self) -> bool:
        return bool(self.pending)

    def reset(self, last: int = 0) -> None:
        self.last, self.pending = last, {}

    def take(self, s: Signal) -> list[Signal]:
        """The signals ``s`` makes deliverable, in order ([] for a duplicate or a gap)."""
        if s.mseq <= self.last or s.mseq in self.pending:
            self.duplicates += 1
            return []
        if s.mseq > self.last + 1:
            if not self.pending:
                self.gaps += 1
            self.pending[s.mseq] = s
            return []
        out = [s]
        self.last = s.mseq
        while self.last + 1 in self.pending:
            self.last += 1
            out.append(self.pending.pop(self.last))
        return out

    def skip_to(self, head: int) -> None:
        """Signals up to ``head`` fell out of the server's mailbox: stop waiting for them."""
        if head > self.last and not any(m <= head for m in self.pending):
            self.last = head


__all__ = ["Applied", "Mailbox", "Push", "RosterView"]
