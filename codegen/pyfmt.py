"""Emit Python source already in `ruff format` style, without depending on ruff.

Calls and collections are kept on one line when they fit in the line length,
and are otherwise exploded one argument per line with a trailing comma (the
"magic trailing comma" that ruff format keeps exploded).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

LINE_LENGTH = 88
INDENT = "    "


@dataclass(frozen=True)
class Call:
    """`func(args...)`; each arg is source text, a nested Call, or a Keyword.

    With `func` empty and other brackets this also writes list and tuple
    literals: `Call("", items, "[", "]")`.
    """

    func: str
    args: tuple[str | Call | Keyword, ...]
    open: str = "("
    close: str = ")"


@dataclass(frozen=True)
class Keyword:
    name: str
    value: str | Call


Expr = Union[str, Call, Keyword]


def flat(expr: Expr) -> str:
    """The expression on one line."""
    if isinstance(expr, str):
        return expr
    if isinstance(expr, Keyword):
        return f"{expr.name}={flat(expr.value)}"
    inner = ", ".join(flat(arg) for arg in expr.args)
    if expr.open == "(" and not expr.func and len(expr.args) == 1:
        inner += ","
    return f"{expr.func}{expr.open}{inner}{expr.close}"


def lines(expr: Expr, prefix: str = "", suffix: str = "", indent: int = 0) -> list[str]:
    """Source lines for `prefix + expr + suffix` at `indent` levels, ruff-style."""
    pad = INDENT * indent
    one = f"{pad}{prefix}{flat(expr)}{suffix}"
    if len(one) <= LINE_LENGTH or isinstance(expr, str):
        return [one]
    if isinstance(expr, Keyword):
        return lines(expr.value, f"{prefix}{expr.name}=", suffix, indent)
    out = [f"{pad}{prefix}{expr.func}{expr.open}"]
    for arg in expr.args:
        out.extend(lines(arg, "", ",", indent + 1))
    out.append(f"{pad}{expr.close}{suffix}")
    return out


def string(text: str) -> str:
    """A double-quoted Python string literal for identifier-like text."""
    return '"' + escape(text) + '"'


def escape(text: str) -> str:
    """Escape text for a double-quoted string, docstring or comment: one line, no quotes."""
    out = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif not char.isprintable():
            out.append(char.encode("unicode_escape").decode("ascii"))
        else:
            out.append(char)
    return "".join(out)
