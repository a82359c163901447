"""PIGEON_LAB_PORTS confines a lab's ports to its own range (parallel workers, two users)."""

from __future__ import annotations

import pytest

from pigeon_lab.cluster import ports
from pigeon_lab.errors import EnvironmentProblem


def test_ports_come_from_the_configured_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ports.PORTS_ENV, "23000-23199")
    got = ports.free_ports(20)
    assert len(set(got)) == 20 and all(23000 <= p <= 23199 for p in got)


@pytest.mark.parametrize("spec", ["23000", "a-b", "23000-22000", "80-2000", "23000-23010"])
def test_a_bad_range_is_refused_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, spec: str
) -> None:
    monkeypatch.setenv(ports.PORTS_ENV, spec)
    with pytest.raises(EnvironmentProblem, match="PIGEON_LAB_PORTS"):
        ports.free_ports(1)


def test_without_the_variable_ports_are_below_the_ephemeral_range(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ports.PORTS_ENV, raising=False)
    low = ports._ephemeral_low()
    assert all(ports.PRIVATE_LOW <= p < low for p in ports.free_ports(10))
