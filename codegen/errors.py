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
        return f"{printable(self.path)}:{self.line}:{self.column}"


@dataclass(frozen=True, order=True)
class Problem:
    """One located problem in a spec: where, which field, and what is wrong."""

    location: Location
    field: str
    message: str

    def __str__(self) -> str:
        field = f" {printable(self.field)}:" if self.field else ""
        return f"{self.location}:{field} {printable(self.message)}"


def printable(text: object) -> str:
    """`text` (a path, a message, a line of a file) safe to print as one line.

    Every character Python does not call printable is written as its escape:
    C0 and C1 controls (`\\x1b`, `\\n`, `\\x85`), DEL, and the format
    characters that reorder or hide text (bidi overrides such as `\\u202e`,
    zero-width characters). A terminal therefore receives no escape sequence
    from a file name or a file's content, and one problem stays one line.
    Undecodable bytes of a file name (surrogate escapes) print as `\\udcXX`.
    """
    text = str(text)
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


class WorkerError(WrapgenError):
    """A worker process died (killed by a signal, e.g. the out-of-memory killer) before it finished."""

    exit_code = 3


class InternalError(WrapgenError):
    """A spec passed validation but a later stage failed: a bug in wrapgen."""

    exit_code = 3
