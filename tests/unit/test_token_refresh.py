"""When the load's users renew a live connection's token (pigeon_lab.load.token_refresh)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pigeon_lab.issuers import REFRESH_MARGIN_S
from pigeon_lab.load.token_refresh import RefreshTimer
from pigeon_lab.protocol.profile import Capabilities


def test_a_long_token_is_renewed_a_margin_before_exp() -> None:
    t = RefreshTimer()
    t.arm(exp=1000.0 + 3600, now=50.0, wall=1000.0)
    assert t.refresh_at == 50.0 + 3600 - REFRESH_MARGIN_S
    assert not t.due(50.0 + 3600 - REFRESH_MARGIN_S - 1) and t.due(50.0 + 3600 - 30)


@given(
    ttl=st.floats(min_value=0.0, max_value=10 * 86400),
    now=st.floats(min_value=0, max_value=1e6),
)
def test_renewal_comes_before_exp_and_never_in_the_past(ttl: float, now: float) -> None:
    t = RefreshTimer()
    t.arm(exp=1e9 + ttl, now=now, wall=1e9)
    assert t.refresh_at is not None
    assert now <= t.refresh_at <= now + max(0.0, ttl - min(REFRESH_MARGIN_S, ttl / 3, 0.5))


def test_a_refresh_in_flight_is_overdue_after_its_answer_time_and_no_exp_means_never() -> None:
    t = RefreshTimer()
    t.arm(exp=1006.0, now=0.0, wall=1000.0)
    assert t.refresh_at == 4.0  # a third of a short life before exp
    t.answer_by = 9.0
    assert not t.due(5.0) and not t.overdue(8.9) and t.overdue(9.0)
    assert t.next_deadline() == 9.0
    t.arm(exp=None, now=10.0, wall=1010.0)
    assert t.refresh_at is None and t.next_deadline() is None and not t.due(1e12)


def test_the_refresh_extension_is_a_capability_a_profile_must_claim() -> None:
    assert Capabilities().token_refresh is False
    assert Capabilities(token_refresh=True).missing(("token_refresh",)) == []
