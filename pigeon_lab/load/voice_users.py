"""The voice workload's side of the load process: its Locust user class.

``pigeon_lab.workloads.voice`` names ``user_classes`` by reference; the load process
calls it (master, local and remote workers alike, so the class names match).
"""

from __future__ import annotations

from locust import User

from pigeon_lab.load.config import LoadConfig
from pigeon_lab.load.context import ContextSlot
from pigeon_lab.load.voice_member import VoiceMember
from pigeon_lab.workloads.voice import VoiceSettings


def user_classes(slot: ContextSlot, config: LoadConfig) -> list[type[User]]:
    """One class of ``workload.voice`` members, finding the load context in ``slot``."""
    settings = config.workload.section("voice")
    if not isinstance(settings, VoiceSettings) or not settings.members:
        return []
    attrs = {"abstract": False, "fixed_count": settings.members, "slot": slot}
    return [type("PigeonVoiceMember", (VoiceMember,), attrs)]


__all__ = ["user_classes"]
