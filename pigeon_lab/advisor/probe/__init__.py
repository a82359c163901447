"""`pigeon-lab probe`: a live deployment's answers to the architect's questions, as
findings (see ``runner.py``). One module per family; importing this package registers
them in report order."""

from pigeon_lab.advisor.probe import (  # noqa: F401  (registration order = report order)
    acks,
    auth,
    cors,
    delivery,
    handshake,
    isolation,
    stickiness,
    transports,
)
from pigeon_lab.advisor.probe.context import ProbeTarget
from pigeon_lab.advisor.probe.registry import CHECKS, FAMILIES, CheckSpec, Family
from pigeon_lab.advisor.probe.runner import family_names, run_probe

__all__ = ["CHECKS", "FAMILIES", "CheckSpec", "Family", "ProbeTarget", "family_names", "run_probe"]
