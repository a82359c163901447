"""The Redis secrets of one bundled cluster: its ACL users (redis_acl.py) and the private
directory for the configs that hold passwords in clear.

With `spec.redis_acl` the cluster generates one ACL user and password per role; the Redis
and Sentinel configs (which Redis rewrites, `masterauth` and Sentinel's `auth-pass` in
clear) live in a private 0700 directory outside the run folder, removed at teardown, with
a redacted copy in the run folder; nodes get their password through their environment,
and the supervisor's own probes and failover log in as the admin user.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pigeon_lab.cluster.redis_acl import Login, RedisCredentials
from pigeon_lab.cluster.spec import ClusterSpec


@dataclass
class RedisSecrets:
    credentials: RedisCredentials | None
    private_dir: Path | None = None

    @classmethod
    def make(cls, spec: ClusterSpec) -> RedisSecrets:
        return cls(RedisCredentials.generate() if spec.redis_acl else None)

    @property
    def admin_login(self) -> Login | None:
        return self.credentials.admin if self.credentials else None

    def server_options(self, spec: ClusterSpec) -> dict[str, Any]:
        """`redis.server_config`'s persistence, security and memory arguments."""
        return {
            "aof": spec.redis_aof,
            "acl": self.credentials,
            "maxmemory_mb": spec.redis_maxmemory_mb,
        }

    def process_files(self) -> dict[str, Any]:
        """`redis.redis_process`'s arguments: configs with passwords go to the private dir."""
        if self.credentials is None:
            return {}
        if self.private_dir is None:
            self.private_dir = Path(tempfile.mkdtemp(prefix="pigeon-lab-redis-"))
        return {
            "conf_dir": self.private_dir,
            "login": self.credentials.admin,
            "redact": self.credentials,
        }

    def node_env(self) -> dict[str, str]:
        return self.credentials.node_env() if self.credentials else {}

    def cleanup(self) -> None:
        if self.private_dir is not None:
            shutil.rmtree(self.private_dir, ignore_errors=True)
