"""Deliberate flaws: each breaks one guarantee so that the checkers can be seen to fail.

Off by default; only `--flaw NAME` switches one on. A node with any flaw shouts about it.
"""

from __future__ import annotations

import logging
import sys

ACK_BEFORE_PERSIST = "ack-before-persist"  # ack ok with a seq, persist later (or never)
LOCAL_SEQ = "local-seq"  # seq from a node-local counter, not Redis INCR
UNPREFIXED_ROOMS = "unprefixed-rooms"  # rooms shared between workspaces
NO_DEDUPE = "no-dedupe"  # retries stored again under a new seq
SENDER_FROM_PAYLOAD = "sender-from-payload"  # payload's `sender` trusted

# --- network faults (issue 7) ---------------------------------------------------------
# /readyz ignores Redis, a cut-off node keeps its clients and acks their sends anyway
# (seq: the last it committed + 1) although nothing can be stored
READY_WHEN_CUT_OFF = "ready-when-cut-off"

FLAW_NAMES: frozenset[str] = frozenset(
    {
        ACK_BEFORE_PERSIST,
        LOCAL_SEQ,
        UNPREFIXED_ROOMS,
        NO_DEDUPE,
        SENDER_FROM_PAYLOAD,
        READY_WHEN_CUT_OFF,
    }
)

# ---- voice rooms (reference_backend/voice/): one flaw per voice checker ------------------
VOICE_LEAVE_ON_DISCONNECT = "voice-leave-on-disconnect"  # no lease reaping: a dead node's ghosts
VOICE_NODE_FLOOR = "voice-node-floor"  # floor state per node: two holders
VOICE_NO_FENCING = "voice-no-fencing"  # speaking accepted with any token
VOICE_NO_SESSION_CHECK = "voice-no-session-check"  # signals relayed to superseded sockets too
VOICE_UNVERSIONED_ROSTER = "voice-unversioned-roster"  # roster pushes and snapshots without ver

VOICE_FLAWS: frozenset[str] = frozenset(
    {
        VOICE_LEAVE_ON_DISCONNECT,
        VOICE_NODE_FLOOR,
        VOICE_NO_FENCING,
        VOICE_NO_SESSION_CHECK,
        VOICE_UNVERSIONED_ROSTER,
    }
)
FLAW_NAMES = FLAW_NAMES | VOICE_FLAWS

# ---- issue 8: flaws whose behaviour lives in flaw_hooks.py --------------------------------
PHANTOM_MESSAGE = "phantom-message"  # a message no client sent, stored and pushed
FORGED_PUSH = "forged-push"  # a push whose body differs from the stored one
DROP_TAIL_PUSH = "drop-tail-push"  # a room's pushes stop some seconds after they start
STALE_SYNC = "stale-sync"  # history reads answered as a lagging replica would
LEAK_ONE_PUSH = "leak-one-push"  # one push in N also reaches another workspace's room
GHOST_MEMBER = "ghost-member"  # leave is acknowledged but does not leave the room
LOST_ON_RECONNECT = "lost-on-reconnect"  # a resuming join skips one message (as "truncated")

HOOK_FLAWS: frozenset[str] = frozenset(
    {
        PHANTOM_MESSAGE,
        FORGED_PUSH,
        DROP_TAIL_PUSH,
        STALE_SYNC,
        LEAK_ONE_PUSH,
        GHOST_MEMBER,
        LOST_ON_RECONNECT,
    }
)
FLAW_NAMES = FLAW_NAMES | HOOK_FLAWS

# ack-before-persist: share of acked messages whose write is dropped, and the delay of the rest.
DROP_FRACTION = 0.2
PERSIST_DELAY_S = 0.05


def warn_flaws(flaws: frozenset[str], log: logging.Logger) -> None:
    """Make a flawed node impossible to mistake for a correct one in any log."""
    if not flaws:
        return
    banner = (
        "!" * 72
        + f"\n!!! DELIBERATE FLAWS ON: {', '.join(sorted(flaws))}"
        + "\n!!! This node breaks protocol guarantees on purpose (self-tests only)."
        + "\n"
        + "!" * 72
    )
    print(banner, file=sys.stderr, flush=True)
    log.warning("deliberate flaws on: %s", ", ".join(sorted(flaws)))
