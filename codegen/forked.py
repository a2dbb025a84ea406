"""Run one function over many items in forked worker processes, one per core.

Workers never write files: each sends `(index, result)` pairs back through a
pipe, and the calling process alone acts on them, in the items' order. So a
worker killed by the kernel leaves no file behind, only a one-line error;
Ctrl-C reaches the calling process alone (workers ignore SIGINT), which stops
every worker and waits for each. A process that has imported TensorFlow never
forks (its threads would not survive it).
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import selectors
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import NoReturn, TypeVar

from codegen.errors import WorkerError
from codegen.files import signals_deferred
from codegen.prefork import fork_allowed, usable_cores

Item = TypeVar("Item")
Result = TypeVar("Result")


def each(
    work: Callable[[Item], Result],
    targets: Sequence[Item],
    *,
    minimum: int,
    lost: str,
) -> list[Result]:
    """`work` on every target, in order; from `minimum` targets on, spread over forked
    processes, one per core. `work` must not write files: only this process does.

    Raises WorkerError when a worker died; `lost` names what its targets are
    (`"module(s) were not generated, and nothing was written"`).
    """
    workers = _parallelism(len(targets), minimum)
    if workers == 1:
        return [work(target) for target in targets]
    return _forked(work, targets, workers, lost)


def _parallelism(count: int, minimum: int) -> int:
    """Worker processes for `count` targets: 1 unless forking is cheap and safe here."""
    if count < minimum or not fork_allowed():
        return 1
    cores = usable_cores()
    return 1 if cores < 2 else min(cores, 8)


def _forked(
    work: Callable[[Item], Result], targets: Sequence[Item], workers: int, lost: str
) -> list[Result]:
    """`work` on every target in `workers` forked processes (worker k takes every k-th).

    On any exception here (Ctrl-C included) every worker is killed and
    waited for before it propagates. Raises WorkerError when a worker died
    before sending all its results.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    children: dict[int, int] = {}  # read end of a worker's pipe -> its pid
    try:
        with signals_deferred():  # the fork and its bookkeeping are one step
            for slot in range(workers):
                indices = range(slot, len(targets), workers)
                read_end, pid = _fork_worker(work, targets, indices, list(children))
                children[read_end] = pid
        received = _collect(children)
    except BaseException:
        with signals_deferred():
            _kill(children.values())
            _reap(children.values())
        raise
    with signals_deferred():
        statuses = _reap(children.values())
    results = _decode(received.values())
    if len(results) < len(targets):
        raise WorkerError(_died_message(statuses, len(targets) - len(results), lost))
    return [results[index] for index in range(len(targets))]


def _fork_worker(
    work: Callable[[Item], Result],
    targets: Sequence[Item],
    indices: Iterable[int],
    inherited: list[int],
) -> tuple[int, int]:
    """Fork a worker for `indices`; return the read end of its pipe and its pid."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _worker(work, targets, indices, write_end, inherited)
    os.close(write_end)
    return read_end, pid


def _worker(
    work: Callable[[Item], Result],
    targets: Sequence[Item],
    indices: Iterable[int],
    write_end: int,
    inherited: list[int],
) -> NoReturn:
    """In a forked child: pickle `(index, work(target))` for each index to the pipe, then exit."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
        for descriptor in inherited:
            os.close(descriptor)
        with os.fdopen(write_end, "wb") as stream:
            for index in indices:
                pickle.dump((index, work(targets[index])), stream)
        code = 0
    finally:
        os._exit(code)


def _collect(children: dict[int, int]) -> dict[int, bytes]:
    """Everything each worker sent, read until every pipe is closed."""
    received = {read_end: bytearray() for read_end in children}
    open_ends = set(children)
    try:
        with selectors.DefaultSelector() as selector:
            for read_end in children:
                selector.register(read_end, selectors.EVENT_READ)
            while open_ends:
                for key, _ in selector.select():
                    chunk = os.read(key.fd, 1 << 16)
                    if chunk:
                        received[key.fd] += chunk
                    else:
                        selector.unregister(key.fd)
                        os.close(key.fd)
                        open_ends.discard(key.fd)
    finally:
        for read_end in open_ends:
            os.close(read_end)
    return {read_end: bytes(data) for read_end, data in received.items()}


def _decode(streams: Iterable[bytes]) -> dict[int, object]:
    """The complete `(index, result)` pairs in the workers' streams; a cut-off tail is dropped."""
    results: dict[int, object] = {}
    for data in streams:
        stream = io.BytesIO(data)
        while stream.tell() < len(data):
            try:
                index, result = pickle.load(stream)
            except Exception:  # noqa: BLE001 - the tail a killed worker left half-sent
                break
            results[index] = result
    return results


def _kill(pids: Iterable[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _reap(pids: Iterable[int]) -> list[int]:
    """Wait for each worker; their wait statuses (only workers, never other children)."""
    statuses = []
    for pid in pids:
        try:
            statuses.append(os.waitpid(pid, 0)[1])
        except ChildProcessError:
            continue
    return statuses


def _died_message(statuses: list[int], missing: int, lost: str) -> str:
    codes = [os.waitstatus_to_exitcode(status) for status in statuses]
    signals = [-code for code in codes if code < 0]
    if signals:
        how = f"was killed by {signal.Signals(signals[0]).name}"
        if signals[0] == signal.SIGKILL:
            how += " (as the kernel's out-of-memory killer does)"
    else:
        how = f"exited with status {max(codes, default=1)}"
    return f"wrapgen: a worker process {how} before it finished; {missing} {lost}"


__all__ = ["each"]
