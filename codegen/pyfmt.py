"""Emit Python source already in `ruff format` style, without depending on ruff.

Calls and collections are kept on one line when they fit in the line length,
and are otherwise exploded one argument per line with a trailing comma (the
"magic trailing comma" that ruff format keeps exploded).
"""

from __future__ import annotations

import ast
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
    comma: bool = True
    """Exploded, end with a magic trailing comma; False for a subscript (`d[\n"key"\n]`),
    where a comma would make the key a tuple."""


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
    head = f"{pad}{prefix}{expr.func}{expr.open}"
    if len(head) > LINE_LENGTH and prefix.endswith(("= ", "return ")):
        # As ruff format: a right-hand side whose first line cannot fit goes in
        # parentheses on lines of its own, when that makes every line fit.
        opener = f"{pad}{prefix}("
        body = lines(expr, "", "", indent + 1)
        if len(opener) <= LINE_LENGTH and all(
            len(line) <= LINE_LENGTH for line in body
        ):
            return [opener, *body, f"{pad}){suffix}"]
    out = [head]
    comma = "," if expr.comma else ""
    for arg in expr.args:
        out.extend(lines(arg, "", comma, indent + 1))
    out.append(f"{pad}{expr.close}{suffix}")
    return out


def subscript(name: str, key: str) -> Call:
    """`name["key"]`, split as ruff splits it when it cannot fit."""
    return Call(name, (string(key),), "[", "]", comma=False)


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


def reflow(text: str, indent: int) -> list[str]:
    """Lay out template-written code ruff-style at `indent` levels.

    Templates write each simple statement on one line; a line's own leading
    spaces (4 per level) nest it deeper. Simple statements are re-laid out by
    `lines` (exploded when longer than the line length); comments and block
    headers (`if ...:`) are kept; blank lines are dropped.
    """
    out: list[str] = []
    for raw in text.splitlines():
        code = raw.strip()
        if not code:
            continue
        level = indent + (len(raw) - len(raw.lstrip(" "))) // len(INDENT)
        if code.startswith("#") or code.endswith(":"):
            out.append(INDENT * level + code)
            continue
        out.extend(_statement(code, level))
    return out


def _statement(code: str, level: int) -> list[str]:
    node = ast.parse(code).body[0]
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = _segment(code, node.targets[0])
        return lines(_expr(node.value, code), f"{target} = ", indent=level)
    if isinstance(node, ast.Return) and node.value is not None:
        return lines(_expr(node.value, code), "return ", indent=level)
    if isinstance(node, ast.Expr):
        return lines(_expr(node.value, code), indent=level)
    return [INDENT * level + code]


def _segment(code: str, node: ast.expr) -> str:
    """The source of `node` in the one-line statement `code` (offsets are UTF-8 bytes)."""
    if node.lineno == node.end_lineno == 1 and node.end_col_offset is not None:
        if code.isascii():
            return code[node.col_offset : node.end_col_offset]
        return code.encode()[node.col_offset : node.end_col_offset].decode()
    return ast.get_source_segment(code, node) or ""


def _expr(node: ast.expr, code: str) -> Expr:
    """`node` as a `Call` tree (calls, lists, parenthesised tuples), else its source text."""
    text = _segment(code, node)
    if isinstance(node, ast.Call):
        args: list[Expr] = [_expr(arg, code) for arg in node.args]
        args += [
            Keyword(str(item.arg), _expr(item.value, code)) for item in node.keywords
        ]
        return Call(_segment(code, node.func), tuple(args))
    if isinstance(node, ast.List):
        return Call("", tuple(_expr(item, code) for item in node.elts), "[", "]")
    if isinstance(node, ast.Tuple) and text.startswith("("):
        return Call("", tuple(_expr(item, code) for item in node.elts))
    return text
