"""The one exception hierarchy of wrapgen; the CLI maps each class to an exit code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Location:
    """A position in a spec file: 1-based line and column."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True, order=True)
class Problem:
    """One located problem in a spec: where, which field, and what is wrong."""

    location: Location
    field: str
    message: str

    def __str__(self) -> str:
        field = f" {_one_line(self.field)}:" if self.field else ""
        return f"{self.location}:{field} {_one_line(self.message)}"


def _one_line(text: str) -> str:
    """`text` with control characters escaped, so one problem is always one line."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode() for c in text
    )


class WrapgenError(Exception):
    """Base class of every error wrapgen reports without a traceback."""

    exit_code = 2


class SpecError(WrapgenError):
    """A spec cannot be read or is invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class UsageError(WrapgenError):
    """The command line asks for something wrapgen cannot do."""


class FindingsError(WrapgenError):
    """The verifier found problems in rendered or hand-written code."""

    exit_code = 1


class InternalError(WrapgenError):
    """A spec passed validation but a later stage failed: a bug in wrapgen."""

    exit_code = 3
