"""What the users of one load process share: config, recorder, counters, latency logs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pigeon_lab.history.recorder import Recorder
from pigeon_lab.load.config import LoadConfig
from pigeon_lab.load.latency import LatencyLog
from pigeon_lab.tokens import mint_token

if TYPE_CHECKING:
    from pigeon_lab.load.user import ChatUser


@dataclass
class LoadContext:
    """What the users of one load process share."""

    config: LoadConfig
    recorder: Recorder
    worker_index: int = 0
    workers: int = 1
    stopping: bool = False
    users: list[ChatUser] = field(default_factory=list)
    delivery_ms: LatencyLog = field(default_factory=LatencyLog)
    ack_ms: LatencyLog = field(default_factory=LatencyLog)
    counters: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("sends", "acks", "send_fail", "send_info", "recv", "deliver", "errors"), 0
        )
    )
    _local_index: int = 0

    def next_index(self) -> int:
        """Global user index: local k-th user of worker w is ``k * workers + w``."""
        i = self._local_index * self.workers + self.worker_index
        self._local_index += 1
        return i

    def token(self, workspace: str, user: str, ttl_s: float = 3600.0) -> str:
        cfg = self.config
        if cfg.jwt_secret:
            return mint_token(cfg.jwt_secret, workspace, user, ttl_s=ttl_s)
        import subprocess

        argv = [
            a.replace("{workspace}", workspace).replace("{user}", user)
            for a in cfg.token_command or []
        ]
        return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()

    def finished(self) -> bool:
        return all(u.finished for u in self.users)


__all__ = ["LoadContext"]
