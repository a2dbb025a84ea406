"""Regenerate or check many targets in one process; the CLI prints what these return."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from codegen.errors import WrapgenError
from codegen.pipeline import Generated, generate
from codegen.targets import Target
from codegen.write import write_module

STATUSES = ("written", "fresh", "stale", "missing", "error", "internal-error")


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


def regenerate(targets: Sequence[Target], force: bool = False) -> list[Outcome]:
    """Write every target's module; fresh ones are left untouched."""
    outcomes = []
    for target in targets:
        try:
            generated = _generate(target)
            assert generated.output is not None
            changed = write_module(generated.output, generated.text, force=force)
            status = "written" if changed else "fresh"
            outcomes.append(Outcome(str(target.spec), str(generated.output), status, 0))
        except Exception as error:  # noqa: BLE001 - mapped to an exit code below
            outcomes.append(_failure(target, error))
    return outcomes


def check(targets: Sequence[Target]) -> list[Outcome]:
    """Compare every target's module on disk with a fresh generation; never writes."""
    outcomes = []
    for target in targets:
        try:
            generated = _generate(target)
            assert generated.output is not None
            output = generated.output
            current = _read(output)
            if current == generated.text:
                outcomes.append(Outcome(str(target.spec), str(output), "fresh", 0))
                continue
            diff = "".join(
                difflib.unified_diff(
                    (current or "").splitlines(keepends=True),
                    generated.text.splitlines(keepends=True),
                    fromfile=f"{output} (on disk)",
                    tofile=f"{output} (from {target.spec})",
                )
            )
            status = "missing" if current is None else "stale"
            outcomes.append(
                Outcome(str(target.spec), str(output), status, 1, diff=diff)
            )
        except Exception as error:  # noqa: BLE001 - mapped to an exit code below
            outcomes.append(_failure(target, error))
    return outcomes


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


__all__ = ["STATUSES", "Outcome", "check", "exit_code", "regenerate"]
