"""Regenerate or check many targets in one process; the CLI prints what these return."""

from __future__ import annotations

import difflib
import functools
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from codegen.errors import WrapgenError
from codegen.pipeline import Generated, generate
from codegen.targets import Target
from codegen.write import write_module


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


PARALLEL_MIN_TARGETS = 16
"""From this many targets on, the work is spread over the machine's cores."""


def regenerate(targets: Sequence[Target], force: bool = False) -> list[Outcome]:
    """Write every target's module; fresh ones are left untouched."""
    return _each(functools.partial(_regenerate_one, force=force), targets)


def _each(
    work: Callable[[Target], Outcome], targets: Sequence[Target]
) -> list[Outcome]:
    """`work` on every target, in order; many targets are spread over forked processes,
    one per core (each target reads and writes only its own module)."""
    workers = _parallelism(len(targets))
    if workers == 1:
        return [work(target) for target in targets]
    import multiprocessing  # only for many targets: these imports cost tens of ms
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        chunk = max(1, len(targets) // (workers * 4))
        return list(pool.map(work, targets, chunksize=chunk))


def _regenerate_one(target: Target, force: bool = False) -> Outcome:
    try:
        generated = _generate(target)
        assert generated.output is not None
        changed = write_module(generated.output, generated.text, force=force)
        status = "written" if changed else "fresh"
        return Outcome(str(target.spec), str(generated.output), status, 0)
    except Exception as error:  # noqa: BLE001 - mapped to an exit code below
        return _failure(target, error)


def _parallelism(count: int) -> int:
    """Worker processes for `count` targets: 1 unless forking is cheap and safe here."""
    if count < PARALLEL_MIN_TARGETS or "tensorflow" in sys.modules:
        return 1  # never fork a process with TensorFlow's threads
    import multiprocessing

    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count() or 1
    if cores < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return min(cores, 8)


def check(targets: Sequence[Target]) -> list[Outcome]:
    """Compare every target's module on disk with a fresh generation; never writes."""
    return _each(_check_one, targets)


def _check_one(target: Target) -> Outcome:
    try:
        generated = _generate(target)
        assert generated.output is not None
        output = generated.output
        current = _read(output)
        if current == generated.text:
            return Outcome(str(target.spec), str(output), "fresh", 0)
        diff = "".join(
            difflib.unified_diff(
                (current or "").splitlines(keepends=True),
                generated.text.splitlines(keepends=True),
                fromfile=f"{output} (on disk)",
                tofile=f"{output} (from {target.spec})",
            )
        )
        status = "missing" if current is None else "stale"
        return Outcome(str(target.spec), str(output), status, 1, diff=diff)
    except Exception as error:  # noqa: BLE001 - mapped to an exit code below
        return _failure(target, error)


def _generate(target: Target) -> Generated:
    """Generate a target, not verifying a rendering identical to the module on disk."""
    return generate(
        target.spec, target.output, fallback=target.fallback, read_existing=_read
    )


def _read(path: Path) -> str | None:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _failure(target: Target, error: Exception) -> Outcome:
    if isinstance(error, WrapgenError):
        return Outcome(str(target.spec), None, "error", error.exit_code, str(error))
    message = f"{target.spec}: internal error in wrapgen: {error!r}; please report it with the spec"
    return Outcome(str(target.spec), None, "internal-error", 3, message)


def exit_code(outcomes: Sequence[Outcome]) -> int:
    return max((o.exit_code for o in outcomes), default=0)


__all__ = ["Outcome", "check", "exit_code", "regenerate"]
