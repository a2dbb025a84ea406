"""Regenerate or check many targets in one process; the CLI prints what these return.

From PARALLEL_MIN_TARGETS targets on, generation (load, validate, render,
verify: the costly part) runs in forked worker processes, one per core. Workers
never write: they send each module's text back through a pipe, and this
process alone writes, one module at a time. So a worker killed by the kernel
leaves no file behind, only a one-line error; Ctrl-C reaches this process
alone (workers ignore SIGINT), which stops every worker and waits for each.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import pickle
import selectors
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar

from codegen.errors import UsageError, WorkerError, WrapgenError, printable
from codegen.files import (
    MAX_MODULE_BYTES,
    read_existing,
    signals_deferred,
)
from codegen.pipeline import Generated, generate
from codegen.targets import Target
from codegen.write import current_module, write_module

Result = TypeVar("Result")


@dataclass(frozen=True)
class Outcome:
    """What happened to one target."""

    spec: str
    output: str | None
    status: str
    exit_code: int
    message: str = ""
    diff: str = ""

    def as_json(self) -> dict:
        return {
            "spec": self.spec,
            "output": self.output,
            "status": self.status,
            "message": self.message,
            "diff": self.diff,
        }


@dataclass(frozen=True)
class Rendered:
    """A module generated (and verified unless identical to the file on disk), not yet written."""

    spec: str
    output: Path
    text: str


PARALLEL_MIN_TARGETS = 16
"""From this many targets on, the work is spread over the machine's cores."""


def regenerate(targets: Sequence[Target], force: bool = False) -> list[Outcome]:
    """Write every target's module; fresh ones are left untouched.

    Raises WorkerError, having written nothing, when a worker process died.
    """
    rendered = _each(_render, targets)
    return [_write(result, force) for result in rendered]


def check(targets: Sequence[Target]) -> list[Outcome]:
    """Compare every target's module on disk with a fresh generation; never writes."""
    return _each(_check_one, targets)


def exit_code(outcomes: Sequence[Outcome]) -> int:
    return max((o.exit_code for o in outcomes), default=0)


def _render(target: Target) -> Rendered | Outcome:
    try:
        generated = _generate(target)
        assert generated.output is not None
        return Rendered(str(target.spec), generated.output, generated.text)
    except Exception as error:  # noqa: BLE001 - mapped to an exit code below
        return _failure(str(target.spec), error)


def _write(result: Rendered | Outcome, force: bool) -> Outcome:
    if isinstance(result, Outcome):
        return result
    try:
        changed = write_module(result.output, result.text, force=force)
    except Exception as error:  # noqa: BLE001 - mapped to an exit code below
        return _failure(result.spec, error)
    status = "written" if changed else "fresh"
    return Outcome(result.spec, str(result.output), status, 0)


def _check_one(target: Target) -> Outcome:
    try:
        generated = _generate(target)
        assert generated.output is not None
        output = generated.output
        current = _read_module(output)
        if current == generated.text:
            return Outcome(str(target.spec), str(output), "fresh", 0)
        diff = "".join(
            difflib.unified_diff(
                (current or "").splitlines(keepends=True),
                generated.text.splitlines(keepends=True),
                fromfile=f"{printable(output)} (on disk)",
                tofile=f"{printable(output)} (from {printable(target.spec)})",
            )
        )
        status = "missing" if current is None else "stale"
        return Outcome(str(target.spec), str(output), status, 1, diff=diff)
    except Exception as error:  # noqa: BLE001 - mapped to an exit code below
        return _failure(str(target.spec), error)


def _generate(target: Target) -> Generated:
    """Generate a target, not verifying a rendering identical to the module on disk."""
    return generate(
        target.spec,
        target.output,
        fallback=target.fallback,
        read_existing=_text_if_small,
        root=target.root,
    )


def _text_if_small(path: Path) -> str | None:
    """The module at `path` when it could equal a rendering; None when absent or odd."""
    try:
        data = read_existing(path)
    except OSError:
        return None
    if data is None or len(data) > MAX_MODULE_BYTES:
        return None
    return data.decode("utf-8", "surrogateescape")


def _read_module(path: Path) -> str | None:
    """The module at `path` as text, or None when nothing is there.

    Bytes that are not UTF-8 are kept as surrogate escapes, so the text
    equals a rendering only when the bytes do (and print escaped).
    """
    data = current_module(path)
    if data is not None and len(data) > MAX_MODULE_BYTES:
        raise UsageError(
            f"{printable(path)}: larger than {MAX_MODULE_BYTES} bytes, so not a module "
            "wrapgen wrote; move it away"
        )
    return None if data is None else data.decode("utf-8", "surrogateescape")


def _failure(spec: str, error: Exception) -> Outcome:
    if isinstance(error, WrapgenError):
        return Outcome(spec, None, "error", error.exit_code, str(error))
    message = (
        f"{printable(spec)}: internal error in wrapgen: {printable(repr(error))}; "
        "please report it with the spec"
    )
    return Outcome(spec, None, "internal-error", 3, message)


# -- worker processes --------------------------------------------------------------


def _each(work: Callable[[Target], Result], targets: Sequence[Target]) -> list[Result]:
    """`work` on every target, in order; many targets are spread over forked processes,
    one per core. `work` must not write files: only this process does."""
    workers = _parallelism(len(targets))
    if workers == 1:
        return [work(target) for target in targets]
    return _forked(work, targets, workers)


def _parallelism(count: int) -> int:
    """Worker processes for `count` targets: 1 unless forking is cheap and safe here."""
    if count < PARALLEL_MIN_TARGETS or "tensorflow" in sys.modules:
        return 1  # never fork a process with TensorFlow's threads
    if not hasattr(os, "fork"):
        return 1
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count() or 1
    return 1 if cores < 2 else min(cores, 8)


def _forked(
    work: Callable[[Target], Result], targets: Sequence[Target], workers: int
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
        raise WorkerError(_died_message(statuses, len(targets) - len(results)))
    return [results[index] for index in range(len(targets))]


def _fork_worker(
    work: Callable[[Target], Result],
    targets: Sequence[Target],
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
    work: Callable[[Target], Result],
    targets: Sequence[Target],
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


def _died_message(statuses: list[int], missing: int) -> str:
    codes = [os.waitstatus_to_exitcode(status) for status in statuses]
    signals = [-code for code in codes if code < 0]
    if signals:
        how = f"was killed by {signal.Signals(signals[0]).name}"
        if signals[0] == signal.SIGKILL:
            how += " (as the kernel's out-of-memory killer does)"
    else:
        how = f"exited with status {max(codes, default=1)}"
    return (
        f"wrapgen: a worker process {how} before it finished; {missing} "
        "module(s) were not generated, and nothing was written"
    )


__all__ = ["Outcome", "Rendered", "check", "exit_code", "regenerate"]
