"""Rich consoles for wrapgen's messages: one problem, one line, on any stream.

rich lays text out for a window: it wraps at the window's width, and when
the stream is not a terminal (a pipe, a CI log, pre-commit's captured
output) it pretends the window is 80 columns wide, so a message with a long
path lands on several lines and no longer greps. Off a terminal these
consoles never wrap a message and give tables all the width they need; on a
terminal, progress bars and tables still fit the window, and messages are
left to the terminal to fold (copying one still gives one line).

User-controlled text (paths, exception messages) is printed as it is: `say`
turns off rich markup, `:emoji:` codes and highlighting, and `escape`
protects such text inside a message that uses markup. rich is imported only
when a console is made: the command line asks `is_tty` on every start.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console

# Off a terminal: wide enough for any table wrapgen prints at its natural
# width; messages are soft-wrapped (never broken) whatever their length.
LOG_WIDTH = 10_000


def message_console(*, stderr: bool = True, file: TextIO | None = None) -> Console:
    """A Console on `file` (default stderr, or stdout) that never wraps a message off a terminal."""
    from rich.console import Console

    stream = file if file is not None else (sys.stderr if stderr else sys.stdout)
    options = {"stderr": stderr, "file": file, "emoji": False, "highlight": False}
    if not is_tty(stream):
        options.update(soft_wrap=True, width=LOG_WIDTH)
    return Console(**options)


def say(console: Console, text: str) -> None:
    """Print `text` as one line: no markup, emoji codes or highlighting, never wrapped."""
    console.print(text, markup=False, emoji=False, highlight=False, soft_wrap=True)


def escape(text: str) -> str:
    """`text` with its rich markup escaped, for a message that uses markup."""
    from rich.markup import escape as escape_markup

    return escape_markup(text)


def is_tty(stream: TextIO) -> bool:
    """Whether `stream` is a terminal (FORCE_COLOR and TTY_COMPATIBLE do not make it one)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except ValueError:  # a closed stream, e.g. at the end of a pytest run
        return False
