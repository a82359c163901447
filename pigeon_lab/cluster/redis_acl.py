"""Redis ACL users of a bundled cluster: one per role, passwords generated per cluster.

- `node` (backend nodes): on the servers, keys `pg:*` and the adapter channel only, with the
  commands of send.lua, reads, WAIT and publish/subscribe; on the Sentinels, discovering the
  primary (`SENTINEL MASTERS`, `GET-MASTER-ADDR-BY-NAME`, ...);
- `replication` (replicas): `PSYNC`, `REPLCONF`, `PING` on the servers;
- `sentinel` (Sentinels): on the servers, what a Sentinel sends a monitored server (Redis's
  documented set); on the Sentinels, everything (each other);
- `admin` (the supervisor and tests: health, readiness, failover): everything, everywhere.

The default user is off on every server and Sentinel: an anonymous client is refused
(`NOAUTH`), so `protected-mode yes` stays on and stays meaningful. The config lines carry
password hashes only (`#<sha256>`), except `masterauth` and Sentinel's `auth-pass` /
`sentinel-pass`, which Redis needs in clear and rewrites into its config files: so the
supervisor writes those files to a private directory outside the run folder (see
`redis.redis_process`) and leaves a redacted copy in the run folder. Nodes get their
password through their environment, never argv or a file.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

ADAPTER_CHANNEL = "socketio"  # python-socketio's AsyncRedisManager channel
NODE_KEYS = "pg:*"  # every chat key of the reference backend (reference_backend/store.py)
VOICE_KEYS = "voice:*"  # every voice-room key (reference_backend/voice/, docs/protocol.md)
REDACTED = "<redacted>"

_NODE_SERVER_COMMANDS = (
    "+ping +hello +auth +select +echo +quit +reset +client|setname "
    "+client|getname +client|id +get +set +incr +incrby +decr +expire +xadd +xrange "
    "+hincrby +hget +hmget "
    # voice rooms (reference_backend/voice/voice.lua and its reaper)
    "+del +hset +hdel +hgetall +hlen +llen +lpop +lrange +lrem +rpush +sadd +srem "
    "+smembers +zadd +zrem +zrangebyscore +time "
    "+evalsha +eval +script|load +script|exists +multi +exec +discard +wait "
    "+publish +subscribe +unsubscribe"
)
_NODE_SENTINEL_COMMANDS = (
    "+ping +hello +auth +client|setname +sentinel|masters +sentinel|master "
    "+sentinel|get-master-addr-by-name +sentinel|sentinels +sentinel|slaves +sentinel|replicas"
)
_SENTINEL_SERVER_COMMANDS = (  # https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/
    "+multi +slaveof +replicaof +ping +exec +subscribe +config|rewrite +role +publish +info "
    "+client|setname +client|kill +script|kill +auth +hello"
)
_REPLICATION_COMMANDS = "+psync +replconf +ping +auth +hello"


@dataclass(frozen=True)
class Login:
    """One ACL user and its password (the password never appears in a repr)."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"Login(username={self.username!r}, password=<redacted>)"

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.password.encode()).hexdigest()


@dataclass(frozen=True)
class RedisCredentials:
    """The cluster's ACL users (see the module docstring)."""

    node: Login
    replication: Login
    sentinel: Login
    admin: Login

    @classmethod
    def generate(cls) -> RedisCredentials:
        def login(role: str) -> Login:
            return Login(f"pigeon-{role}", secrets.token_urlsafe(24))

        return cls(login("node"), login("replication"), login("sentinel"), login("admin"))

    @property
    def passwords(self) -> list[str]:
        return [self.node.password, self.replication.password, self.sentinel.password,
                self.admin.password]  # fmt: skip

    def to_dict(self) -> dict[str, dict[str, str]]:
        return {
            role: {"username": login.username, "password": login.password}
            for role, login in (
                ("node", self.node),
                ("replication", self.replication),
                ("sentinel", self.sentinel),
                ("admin", self.admin),
            )
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RedisCredentials:
        return cls(**{role: Login(**data[role]) for role in ("node", "replication",
                                                               "sentinel", "admin")})  # fmt: skip

    def redact(self, text: str) -> str:
        """`text` with every password replaced by REDACTED."""
        for password in self.passwords:
            text = text.replace(password, REDACTED)
        return text

    def node_env(self) -> dict[str, str]:
        """The backend node's environment (its flags' env vars; argv is public)."""
        return {
            "PIGEON_BACKEND_REDIS_USERNAME": self.node.username,
            "PIGEON_BACKEND_REDIS_PASSWORD": self.node.password,
            "PIGEON_BACKEND_SENTINEL_USERNAME": self.node.username,
            "PIGEON_BACKEND_SENTINEL_PASSWORD": self.node.password,
        }


def server_lines(creds: RedisCredentials) -> list[str]:
    """redis.conf lines of a primary or replica: the users, and how a replica logs in."""
    return [
        "user default off",
        f"user {creds.node.username} on #{creds.node.hash} resetkeys ~{NODE_KEYS} ~{VOICE_KEYS} "
        f"resetchannels &{ADAPTER_CHANNEL} -@all {_NODE_SERVER_COMMANDS}",
        f"user {creds.replication.username} on #{creds.replication.hash} resetkeys "
        f"resetchannels -@all {_REPLICATION_COMMANDS}",
        f"user {creds.sentinel.username} on #{creds.sentinel.hash} resetkeys allchannels "
        f"-@all {_SENTINEL_SERVER_COMMANDS}",
        f"user {creds.admin.username} on #{creds.admin.hash} allkeys allchannels +@all",
        f"masteruser {creds.replication.username}",
        f'masterauth "{creds.replication.password}"',
    ]


def sentinel_lines(creds: RedisCredentials, master_name: str) -> list[str]:
    """sentinel.conf lines: the Sentinel's own users and how it logs in elsewhere."""
    return [
        "user default off",
        f"user {creds.node.username} on #{creds.node.hash} resetkeys resetchannels "
        f"-@all {_NODE_SENTINEL_COMMANDS}",
        f"user {creds.sentinel.username} on #{creds.sentinel.hash} allkeys allchannels +@all",
        f"user {creds.admin.username} on #{creds.admin.hash} allkeys allchannels +@all",
        f"sentinel auth-user {master_name} {creds.sentinel.username}",
        f'sentinel auth-pass {master_name} "{creds.sentinel.password}"',
        f"sentinel sentinel-user {creds.sentinel.username}",
        f'sentinel sentinel-pass "{creds.sentinel.password}"',
    ]


__all__ = [
    "ADAPTER_CHANNEL",
    "NODE_KEYS",
    "Login",
    "RedisCredentials",
    "sentinel_lines",
    "server_lines",
]
