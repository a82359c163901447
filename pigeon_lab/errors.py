"""The one error hierarchy of pigeon-lab.

    PigeonLabError                 anything pigeon-lab reports to a user (exit code 2)
    ├── ConfigError                a bad scenario file, flag or setting (names file, field, reason)
    ├── EnvironmentProblem         a missing binary, a busy port, an unreachable dependency
    ├── ClusterError               a supervised process failed to start, died or did not get ready
    │   └── ProcessNotFound        a process name that the cluster does not have
    ├── LoadError                  the load generator could not run
    ├── ProxyError                 the fault proxy refused a request or could not be reached
    └── ReportError                a run folder that cannot be read or rendered

Third-party errors (redis, socketio, HTTP, OS) are mapped into these at the
boundary with ``raise ... from exc`` so that the CLI can print one clear line.
"""

from __future__ import annotations


class PigeonLabError(Exception):
    """Base of every error pigeon-lab reports to a user."""

    exit_code: int = 2


class ConfigError(PigeonLabError):
    """Bad input: a scenario file, a CLI flag or a setting. Says where and why."""

    def __init__(
        self, message: str, *, source: str | None = None, field: str | None = None
    ) -> None:
        self.source = source
        self.field = field
        where = ": ".join(p for p in (source, field) if p)
        super().__init__(f"{where}: {message}" if where else message)


class EnvironmentProblem(PigeonLabError):
    """Something the machine lacks: a binary, a free port, a reachable service."""


class ClusterError(PigeonLabError):
    """A supervised process failed to start, died, or did not become ready in time."""


class ProcessNotFound(ClusterError):
    """A process name that the running cluster does not have."""


class LoadError(PigeonLabError):
    """The load generator could not start or run."""


class ProxyError(PigeonLabError):
    """The fault proxy (ours or a real toxiproxy-server) refused a request or was unreachable.

    `proxy` names the proxy the request was about, `status` is the HTTP status
    (None when there was no answer) and `server_error` the server's own message.
    """

    def __init__(
        self,
        message: str,
        *,
        proxy: str | None = None,
        status: int | None = None,
        server_error: str | None = None,
    ) -> None:
        self.proxy = proxy
        self.status = status
        self.server_error = server_error
        super().__init__(message)


class ReportError(PigeonLabError):
    """A run folder that cannot be read, checked or rendered."""
