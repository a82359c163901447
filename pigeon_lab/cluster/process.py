"""One supervised process: start, readiness, signals, and a useful error when it fails.

Children run in their own session (so a Ctrl-C in the terminal reaches only
the supervisor, which then tears down in order) and with PR_SET_PDEATHSIG, so
that they die with the supervisor even when it is SIGKILLed. The kernel sends
that signal when the *thread* that forked the child exits, so every fork goes
through one long-lived spawner thread: a restart from a short-lived thread (a
fault scheduler) must not leave a child that dies with that thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import IO

from pigeon_lab.cluster.procfs import pid_state
from pigeon_lab.errors import ClusterError, EnvironmentProblem

PR_SET_PDEATHSIG = 1
ReadyCheck = Callable[[], bool]


def _pdeathsig_preexec(parent_pid: int) -> Callable[[], None]:
    """A preexec_fn that makes the child die with SIGKILL when its parent dies."""

    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


class _Spawner:
    """One daemon thread, alive as long as the process, that performs every fork."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Callable[[], None], Future[None]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, fn: Callable[[], None]) -> None:
        """Run `fn` in the spawner thread and wait for it (its exceptions are re-raised here)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="pigeon-spawner", daemon=True
                )
                self._thread.start()
        if threading.current_thread() is self._thread:
            fn()
            return
        future: Future[None] = Future()
        self._queue.put((fn, future))
        future.result()

    def _loop(self) -> None:
        while True:
            fn, future = self._queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                fn()
            except BaseException as exc:  # re-raised in the waiting caller
                future.set_exception(exc)
            else:
                future.set_result(None)


_SPAWNER = _Spawner()


def log_tail(path: Path, lines: int = 20) -> str:
    """The last `lines` lines of a log file ('' when there is none)."""
    try:
        with path.open("r", errors="replace") as fh:
            return "".join(deque(fh, maxlen=lines)).rstrip()
    except OSError:
        return ""


class ManagedProcess:
    """A named child process with its own log file, controlled by signals."""

    def __init__(
        self,
        name: str,
        kind: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        cwd: Path,
        port: int | None = None,
        env: dict[str, str] | None = None,
        ready_check: ReadyCheck | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.argv = list(argv)
        self.log_path = log_path
        self.cwd = cwd
        self.port = port
        self.env = env
        self.ready_check = ready_check
        self.popen: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    @property
    def returncode(self) -> int | None:
        return self.popen.poll() if self.popen else None

    def state(self) -> str:
        """'alive', 'paused', 'dead' or 'not-started'."""
        if self.popen is None:
            return "not-started"
        if self.popen.poll() is not None:
            return "dead"
        return pid_state(self.popen.pid)

    def start(self) -> None:
        """Spawn the process (appending to its log); does not wait for readiness."""
        if self.popen is not None and self.popen.poll() is None:
            raise ClusterError(f"{self.name} is already running (pid {self.popen.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.cwd.mkdir(parents=True, exist_ok=True)
        self._close_log()
        self._log = self.log_path.open("ab")
        self.starts += 1
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self._log.write(
            f"--- pigeon-lab: start #{self.starts} at {stamp}: {' '.join(self.argv)}\n".encode()
        )
        self._log.flush()

        def spawn() -> None:  # sets self.popen in the spawner, even if the caller is interrupted
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                env=self.env,
                start_new_session=True,
                preexec_fn=_pdeathsig_preexec(os.getpid()),  # prctl in the child
            )

        try:
            _SPAWNER.run(spawn)
        except OSError as exc:
            raise EnvironmentProblem(f"cannot start {self.name} ({self.argv[0]}): {exc}") from exc

    def failure(self, why: str) -> ClusterError:
        """A ClusterError naming the process, its exit code and its log tail."""
        code = self.returncode
        detail = f"exit code {code}" if code is not None else f"pid {self.pid}, still running"
        tail = log_tail(self.log_path)
        return ClusterError(
            f"{self.name} {why} ({detail}); log {self.log_path}, last lines:\n{tail or '(empty)'}"
        )

    def wait_ready(self, deadline: float) -> None:
        """Block until the ready check passes; raise ClusterError on exit or at `deadline`."""
        while True:
            if self.popen is None or self.popen.poll() is not None:
                raise self.failure("exited before it was ready")
            if self.ready_check is None or self.ready_check():
                return
            if time.monotonic() >= deadline:
                raise self.failure("did not become ready in time")
            time.sleep(0.05)

    def signal(self, sig: int) -> None:
        """Send `sig` to the process group (the process and anything it spawned)."""
        if self.popen is None or self.popen.poll() is not None:
            raise ClusterError(f"{self.name} is not running")
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            return

    def wait(self, timeout_s: float) -> int | None:
        """Wait up to `timeout_s` for the process to exit: its exit code, None if still running.

        For one-shot processes (a load driver, a profiler) that the caller lets run to the end.
        """
        if self.popen is None:
            raise ClusterError(f"{self.name} was never started")
        try:
            return self.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def kill_group(self) -> None:
        """SIGKILL whatever is left in the process group, even after the leader has exited.

        A leader that forks workers (the Node load driver does) can exit and leave them
        running; `kill` only acts while the leader lives. Linux keeps a group's id from being
        reused while any member of it lives, so this reaches only what this process started.
        """
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)

    def kill(self, timeout_s: float = 10.0) -> None:
        """SIGKILL and reap (the port is free afterwards)."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.signal(signal.SIGKILL)
        self._reap(timeout_s)

    def pause(self) -> None:
        """SIGSTOP, and wait until the kernel shows it stopped (signal delivery is asynchronous)."""
        self.signal(signal.SIGSTOP)
        self._await_state(lambda st: st in ("paused", "dead"))

    def resume(self) -> None:
        self.signal(signal.SIGCONT)
        self._await_state(lambda st: st != "paused")

    def _await_state(self, done: Callable[[str], bool], timeout_s: float = 2.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not done(self.state()):
            if time.monotonic() >= deadline:
                raise ClusterError(f"{self.name} is still {self.state()} after {timeout_s}s")
            time.sleep(0.005)

    def terminate(self, grace_s: float = 30.0) -> int | None:
        """SIGTERM (after SIGCONT, so a paused process can act on it); SIGKILL after `grace_s`."""
        if self.popen is None or self.popen.poll() is not None:
            return self.returncode
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            return self.popen.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.returncode

    def _reap(self, timeout_s: float) -> None:
        assert self.popen is not None
        try:
            self.popen.wait(timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise ClusterError(
                f"{self.name} (pid {self.popen.pid}) did not exit after SIGKILL"
            ) from exc

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self) -> None:
        """Release the log handle (after the process is gone)."""
        self._close_log()


def stop_all(processes: Sequence[ManagedProcess], grace_s: float = 1.0) -> list[str]:
    """Stop many processes at once: SIGCONT+SIGTERM to all, then SIGKILL what remains.

    Never raises for one process (teardown must reach all of them); returns the problems.
    """
    problems: list[str] = []
    live = [p for p in processes if p.popen is not None and p.popen.poll() is None]
    for proc in live:
        try:
            proc.signal(signal.SIGCONT)
            proc.signal(signal.SIGTERM)
        except ClusterError as exc:
            problems.append(str(exc))
    deadline = time.monotonic() + grace_s
    for proc in live:
        assert proc.popen is not None
        try:
            proc.popen.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                proc.kill()
            except ClusterError as exc:
                problems.append(str(exc))
    for proc in processes:
        proc.close()
    return problems
