"""Stopping the TFF C++ `worker_binary` processes that TFF starts and rarely stops.

Importing TFF installs an execution context that starts a `worker_binary`
child on first use and stops it only from a `__del__` that often never runs;
the orphan keeps the parent's stdout open, so `python script.py | tail` and
CI runs hang. Whatever runs TFF calls `stop_tff_workers()` before it exits.
This module never imports TensorFlow.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import time
from pathlib import Path

WORKER_NAME = "worker_binary"


def stop_tff_workers(timeout: float = 10.0) -> list[int]:
    """Stop every worker this process started; return their pids."""
    stopped = _stop_service_managers(timeout)
    for pid in child_worker_pids(os.getpid()):
        _terminate(pid, timeout)
        stopped.append(pid)
    return stopped


def _stop_service_managers(timeout: float) -> list[int]:
    """Stop workers through TFF's own ServiceManager objects, so their `__del__` is a no-op."""
    stopped = []
    for obj in gc.get_objects():
        if type(obj).__name__ != "ServiceManager" or not hasattr(obj, "_process"):
            continue
        # TFF's `__del__` kills the process again and, at interpreter exit (when
        # `subprocess` is already gone), prints an AttributeError; wrapgen stops
        # every manager's worker here instead.
        type(obj).__del__ = _stopped_already
        process = obj._process
        if isinstance(process, subprocess.Popen):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            stopped.append(process.pid)
            obj._process = None
            obj._stub = None
            # TFF restarts a worker whenever its stub is not ready; after a stop, a
            # computation still in flight on another thread must fail instead.
            obj.get_stub = _stopped
    return stopped


def _stopped_already(self) -> None:
    """A ServiceManager's `__del__` once wrapgen has stopped its worker."""


def _stopped():
    raise RuntimeError("wrapgen stopped the TFF workers of this process")


def child_worker_pids(parent: int) -> list[int]:
    """Pids of live `worker_binary` processes whose parent is `parent`."""
    return [pid for pid, ppid in _worker_processes() if ppid == parent]


def all_worker_pids() -> list[int]:
    """Pids of every live `worker_binary` process on the machine."""
    return [pid for pid, _ in _worker_processes()]


def _worker_processes() -> list[tuple[int, int]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")[0]
            stat_fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if cmdline.endswith(WORKER_NAME.encode()) and stat_fields[0] != "Z":
            found.append((int(entry.name), int(stat_fields[1])))
    return found


def _terminate(pid: int, timeout: float) -> None:
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid if not Path(f"/proc/{pid}").exists() else 0
        if done:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
