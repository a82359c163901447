"""The chat workload's side of the load process: its Locust user classes.

``pigeon_lab.workloads.chat`` names ``user_classes`` by reference; the load process
calls it (master, local and remote workers alike, so the class names match).
"""

from __future__ import annotations

from locust import User

from pigeon_lab.load.adversary import AdversaryUser
from pigeon_lab.load.config import LoadConfig
from pigeon_lab.load.context import ContextSlot
from pigeon_lab.load.user import ChatUser


def user_classes(slot: ContextSlot, config: LoadConfig) -> list[type[User]]:
    """``workload.users`` chat users and ``workload.adversarial_users`` adversaries, each
    class finding the load context in ``slot``."""
    w = config.workload
    classes: list[type[User]] = []
    if w.users:
        attrs = {"abstract": False, "fixed_count": w.users, "slot": slot}
        classes.append(type("PigeonChatUser", (ChatUser,), attrs))
    if w.adversarial_users:
        attrs = {"abstract": False, "fixed_count": w.adversarial_users, "slot": slot}
        classes.append(type("PigeonAdversary", (AdversaryUser,), attrs))
    return classes


__all__ = ["user_classes"]
