"""Files from untrusted places: regular files only, bounded reads, and the project root.

wrapgen runs in pre-commit hooks over files that arrive in pull requests, so
every path it did not get from the user's own command line is untrusted: a
spec's `output:`, `[tool.wrapgen]`, the header of a generated module, a glob
match, and a file name that git carried as a symlink. Three rules hold here:

- **The project root.** It is the folder of the pyproject.toml whose
  `[tool.wrapgen]` table wrapgen reads; a spec or module named on the command
  line outside that folder (or with no such table) has its own folder as root.
  Symlinks are resolved (`os.path.realpath`) before deciding whether a path is
  inside; wrapgen reads and writes nothing outside the root except a path the
  user named on the command line, such as `-o /abs/out.py`.
- **Regular files only.** A FIFO would block a read forever and a device such
  as /dev/zero never ends, so anything but a regular file is refused after a
  `stat`, before it is opened, and checked again with `fstat` once open.
- **Bounded reads.** A read stops at its limit plus one byte, so a caller can
  tell "too large" without holding more than that in memory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

from codegen.errors import printable

MAX_MODULE_BYTES = 16 * 1024 * 1024
"""An existing output larger than this is not a module wrapgen wrote; it is never read whole."""

HEADER_BYTES = 4096
"""How much of a `.py` file is read to find wrapgen's header line."""

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class NotRegularFile(OSError):
    """A path that exists but is not a regular file (directory, FIFO, device, socket)."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(f"expected a regular file, found {kind}")
        self.path = path
        self.kind = kind
        self.strerror = str(self)


class OutsideRoot(ValueError):
    """A path whose real location is outside the project root."""


def kind_of(mode: int) -> str:
    """What a `st_mode` describes: "a regular file", "a FIFO", "a directory", ..."""
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return "a regular file" if stat.S_ISREG(mode) else "a special file"


def special_kind(path: Path) -> str | None:
    """What `path` is when it exists but is not a regular file ("a FIFO", ...), else None.

    Follows symlinks; never opens the path.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    return None if stat.S_ISREG(mode) else kind_of(mode)


def refusal(path: Path, kind: str) -> str:
    """The message that refuses `path`, which is `kind` (not a regular file), as an output."""
    what = "a .py output path" if kind == "a directory" else "a regular file"
    return f"{printable(path)}: is {kind}, expected {what}; nothing was written"


def read_regular(path: Path, limit: int) -> bytes:
    """At most the first `limit + 1` bytes of the regular file at `path`.

    Raises `NotRegularFile` for a directory, FIFO, device or socket (checked
    with `stat` before opening, and with `fstat` after an open that does not
    wait for a FIFO's writer), FileNotFoundError and other OSErrors as the
    system gives them. A result longer than `limit` means the file is larger.
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotRegularFile(path, kind_of(mode))
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)
    descriptor = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):  # replaced between the stat and the open
            raise NotRegularFile(path, kind_of(mode))
        return _read_at_most(descriptor, limit + 1)
    finally:
        os.close(descriptor)


def _read_at_most(descriptor: int, size: int) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left > 0:
        chunk = os.read(descriptor, min(left, 1024 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_existing(path: Path, limit: int = MAX_MODULE_BYTES) -> bytes | None:
    """The bytes at `path` (at most `limit + 1`), or None when nothing is there.

    Anything but a regular file raises `NotRegularFile`: an output that is a
    FIFO or a device is refused, never opened for reading or writing. A
    missing folder on the way (or a file where one should be) is "nothing".
    """
    try:
        return read_regular(path, limit)
    except (FileNotFoundError, NotADirectoryError):
        return None


def real(path: Path) -> Path:
    """`path` absolute, with every symlink resolved (what a read or write would reach)."""
    return Path(os.path.realpath(path))


def is_inside(path: Path, root: Path) -> bool:
    """Whether the real location of `path` is `root` (a real path) or below it."""
    where = real(path)
    return where == root or root in where.parents


def require_inside(path: Path, root: Path, what: str) -> None:
    """Raise `OutsideRoot` unless the real location of `path` is inside `root`."""
    if not is_inside(path, root):
        raise OutsideRoot(
            f"{printable(path)}: {what} is outside the project root "
            f"{printable(root)} (symlinks resolved: {printable(real(path))}); "
            "wrapgen reads and writes only inside it"
        )


def root_of_named(path: Path, config_root: Path | None) -> Path:
    """The project root of a spec or module named on the command line.

    The config's root when the path, as named (absolute, `..` folded, symlinks
    not followed), is inside it; otherwise the real folder the path is in.
    The real location of the file must then be inside this root: a named
    file that is a symlink out of its project is refused.
    """
    named = Path(os.path.abspath(path))
    if config_root is not None and (
        named.parent == config_root or config_root in named.parents
    ):
        return config_root
    return real(named.parent)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends (a file write and its clean-up).

    A Ctrl-C, or a second one, arriving meanwhile is delivered when the block
    ends, so a temporary file is always either renamed or removed.
    """
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not POSIX
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


__all__ = [
    "HEADER_BYTES",
    "MAX_MODULE_BYTES",
    "NotRegularFile",
    "OutsideRoot",
    "is_inside",
    "kind_of",
    "read_existing",
    "read_regular",
    "real",
    "refusal",
    "require_inside",
    "root_of_named",
    "signals_deferred",
    "special_kind",
]
