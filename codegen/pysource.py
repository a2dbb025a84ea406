"""Reading untrusted Python source: decode it as Python does and bound it before a parser sees it.

`wrapgen verify` runs on files from pull requests. libcst's parser (native
code) and the passes recurse on the syntax tree, so a few thousand nested
brackets overflow the parser's stack and kill the process, a few hundred
chained operators raise RecursionError, and a large module costs about a
kilobyte of memory per byte. Before libcst sees a module:

- `read_source` reads at most `MAX_BYTES` and decodes the bytes like the
  interpreter (a PEP 263 coding line, a UTF-8 byte order mark);
- `check_source` refuses a NUL byte, more than `MAX_LINES` lines or
  `MAX_TOKENS` tokens, and nesting deeper than `MAX_DEPTH` (see
  `nesting_depth`), scanning with Python's own tokenizer, which does not
  recurse, and stopping at the first token over a limit; then Python's own
  parser must accept the module, so libcst only parses what the interpreter
  would run.

Every refusal is an `UnparsableSource`: one located line, exit 2.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import tokenize
import warnings
from collections.abc import Iterator
from pathlib import Path

from codegen.errors import Location, Problem, WrapgenError

MAX_BYTES = 512 * 1024
"""Largest module verified, in bytes (and in characters once decoded)."""
MAX_LINES = 20_000
"""Most lines in a module."""
MAX_TOKENS = 150_000
"""Most tokens in a module, as Python's tokenizer counts them."""
MAX_DEPTH = 100
"""Deepest nesting `nesting_depth` allows at any token."""


class UnparsableSource(WrapgenError):
    """A module the verifier will not analyse: unreadable, not valid Python, or over a limit.

    Always one located line, `path:line:col: message`; exit 2.
    """


def refuse(path: str, line: int, column: int, message: str) -> UnparsableSource:
    """An `UnparsableSource` at a 1-based line and column, control characters escaped."""
    return UnparsableSource(str(Problem(Location(path, line, column), "", message)))


# -- reading ------------------------------------------------------------------


def read_source(path: Path, shown: str) -> str:
    """The text of the Python file at `path`, decoded as the interpreter would.

    Reads at most `MAX_BYTES + 1` bytes, so a huge file (or a link to an
    endless device) is refused without reading it. `OSError`s propagate.
    """
    with path.open("rb") as stream:
        data = stream.read(MAX_BYTES + 1)
        size = os.fstat(stream.fileno()).st_size
    if len(data) > MAX_BYTES:
        raise refuse(shown, 1, 1, _size_message(max(size, len(data))))
    return decode_source(data, shown)


def decode_source(data: bytes, shown: str) -> str:
    """`data` decoded by its PEP 263 coding line or byte order mark (UTF-8 by default).

    A byte the encoding cannot decode is reported at 1:1 (the encoding is the
    whole file's), naming the byte and its line and column.
    """
    encoding = _encoding(data, shown)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise refuse(shown, 1, 1, _undecodable(data, encoding, error.start)) from None
    except LookupError as error:  # a codec that is not a text encoding, e.g. `uu`
        raise refuse(
            shown, _cookie_line(data), 1, f"not valid Python: {error}"
        ) from None


def _encoding(data: bytes, shown: str) -> str:
    """The encoding Python reads `data` in; refuses a coding line Python refuses."""
    try:
        return tokenize.detect_encoding(io.BytesIO(data).readline)[0]
    except SyntaxError as error:
        reason = str(error)
    if reason.startswith("invalid or missing encoding declaration"):
        return "utf-8"  # a first line that is not UTF-8, and no coding line
    if reason.startswith("encoding problem"):
        reason = (
            "it starts with a UTF-8 byte order mark but its coding line names "
            "another encoding"
        )
    raise refuse(shown, _cookie_line(data), 1, f"not valid Python: {reason}")


def _undecodable(data: bytes, encoding: str, offset: int) -> str:
    """Which byte `encoding` cannot decode, where, and what to do about it."""
    line = data.count(b"\n", 0, offset) + 1
    column = offset - data.rfind(b"\n", 0, offset)
    where = f"byte 0x{data[offset]:02x} at {line}:{column}"
    if encoding in ("utf-8", "utf-8-sig"):
        return f"not UTF-8 ({where}); save it as UTF-8 or name its encoding in a coding line"
    return f"not valid {encoding} ({where}), the encoding its coding line declares"


def _cookie_line(data: bytes) -> int:
    """The line (1 or 2) of the coding line, where PEP 263 allows one."""
    first, _, rest = data.partition(b"\n")
    return 1 if b"coding" in first or b"coding" not in rest.split(b"\n", 1)[0] else 2


# -- checking -----------------------------------------------------------------


def check_source(source: str, path: str) -> None:
    """Refuse `source` unless it is within every limit and Python's parser accepts it."""
    if len(source) > MAX_BYTES:
        raise refuse(path, 1, 1, _size_message(len(source)))
    nul = source.find("\0")
    if nul >= 0:
        line, column = _position(source, nul)
        raise refuse(
            path,
            line,
            column,
            "not valid Python: source code cannot contain null bytes",
        )
    lines = source.count("\n") + 1
    if lines > MAX_LINES:
        raise refuse(
            path,
            MAX_LINES + 1,
            1,
            f"over the verifier's limit of {MAX_LINES:,} lines (found {lines:,})",
        )
    nesting_depth(source, path)
    _parse_with_python(source, path)


def _size_message(found: int) -> str:
    more = f"found {found:,}" if found > MAX_BYTES + 1 else "found more"
    return f"over the verifier's size limit of {MAX_BYTES:,} bytes ({more})"


def _position(source: str, offset: int) -> tuple[int, int]:
    """1-based line and column of character `offset` in `source`."""
    line_start = source.rfind("\n", 0, offset) + 1
    return source.count("\n", 0, offset) + 1, offset - line_start + 1


def _parse_with_python(source: str, path: str) -> None:
    """Python's own parse, which runs nothing; libcst accepts more (e.g. newer syntax)."""
    try:
        # Warnings (e.g. invalid escapes) are not the verifier's business.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(source, filename=path)
    except SyntaxError as error:
        raise refuse(
            path, error.lineno or 1, error.offset or 1, f"not valid Python: {error.msg}"
        ) from None
    except (MemoryError, RecursionError) as error:  # nesting the scan did not see
        raise refuse(
            path,
            1,
            1,
            f"too deeply nested for Python's parser ({type(error).__name__})",
        ) from None


# -- nesting ------------------------------------------------------------------

_BRACKETS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = frozenset(_BRACKETS.values())
_SEPARATORS = frozenset(
    {",", ";", "=", "->", "+=", "-=", "*=", "/=", "//=", "%=", "@=", "&=", "|="}
    | {"^=", ">>=", "<<=", "**="}
)
_NEUTRAL = frozenset({":", "..."})
_KEYWORD_OPERATORS = frozenset(
    {"not", "and", "or", "if", "else", "elif", "lambda", "await", "yield", "in", "is"}
    | {"for", "async", "from", "as"}
)
_STRING_PREFIX = re.compile(r"[A-Za-z]*")
_SKIPPED = frozenset({tokenize.NL, tokenize.COMMENT, tokenize.ENCODING})
_LAYOUT = frozenset(
    {tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
)


class _TooDeep(Exception):
    """Raised inside the scan; `nesting_depth` turns it into a located refusal."""

    def __init__(self, row: int, column: int, message: str) -> None:
        super().__init__(message)
        self.row, self.column, self.message = row, column, message


class _Frame:
    """One open bracket (or the parameters of a `lambda`) during the scan.

    Depths inside are `base` plus a relative depth: `run`, the operators
    chained onto the current operand, plus `carried`, the deepest bracket
    closed in that operand (every later operator may wrap it).
    """

    __slots__ = ("base", "carried", "closes", "deepest", "floor", "run")

    def __init__(self, base: int, closes: str = "") -> None:
        self.base = base
        self.run = 0
        self.carried = 0
        self.floor = 0  # `run` after a separator: raised by a comprehension's `for`
        self.deepest = 0  # the largest `run + carried` so far
        self.closes = closes  # ")", "]", "}", ":" (lambda parameters), "" (a line)


def nesting_depth(source: str, path: str, limit: int = MAX_DEPTH) -> int:
    """The deepest nesting in `source`; refuse it at the first token deeper than `limit`.

    An upper bound on the depth of the syntax tree at each token, counted
    from tokens: each logical line 4, each indented block 3, each open
    bracket 2 (one more for a call or subscript), and 1 for each operator,
    `.`, keyword operator (`not`, `and`, `if`, `lambda`, `for`, ...), `elif`
    of a chain, or string concatenated to the previous one, chained onto the
    same operand (a `,`, `;` or `=` starts a new operand); a bracket closed
    in an operand counts again under every operator chained after it. The
    replacement fields of an f-string are scanned as code inside it. Also
    refuses more than `MAX_TOKENS` tokens. A file Python cannot tokenize is
    measured up to the error (Python's parser then refuses it).
    """
    try:
        return _Scan(limit).run(source, 0, (1, 0))
    except _TooDeep as error:
        raise refuse(path, error.row, error.column + 1, error.message) from None


class _Scan:
    """One nesting scan of a module: its limit and the tokens counted so far."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.tokens = 0

    def run(self, text: str, base: int, origin: tuple[int, int]) -> int:
        """The deepest level in `text` (a module, or an f-string field) nested `base` deep.

        `origin` is the 1-based row and 0-based column of `text` in the file.
        """
        text = text.replace("\r\n", "\n").replace("\r", "\n")  # as Python reads lines
        scanned = _Text(self, base, origin)
        # Measured up to a tokenizer error; Python's parser then reports it.
        with contextlib.suppress(tokenize.TokenError, SyntaxError):
            scanned.scan(tokenize.generate_tokens(io.StringIO(text).readline))
        return scanned.deepest


class _Text:
    """The scan of one text: open blocks and brackets at the current token."""

    def __init__(self, scan: _Scan, base: int, origin: tuple[int, int]) -> None:
        self.state = scan
        self.origin = origin
        self.deepest = base
        self.blocks = [base]  # depth at which each open indented block starts
        self.elifs = [0]  # `elif` branches so far in the current chain of each block
        self.frames = [_Frame(base + 4)]
        self.inside_string = origin != (1, 0)

    def scan(self, tokens: Iterator[tokenize.TokenInfo]) -> None:
        """Follow `tokens`, raising `_TooDeep` at the first one over a limit."""
        state, name, keywords = self.state, tokenize.NAME, _KEYWORD_OPERATORS
        line_start, operand, previous = True, False, tokenize.NEWLINE
        for token in tokens:
            kind = token[0]  # indexing is faster than the named field, per token
            if kind in _SKIPPED:
                continue
            state.tokens += 1
            if state.tokens > MAX_TOKENS:
                self._refuse(
                    token,
                    f"over the verifier's limit of {MAX_TOKENS:,} tokens "
                    "(this is one more)",
                )
            if kind == name and not line_start and token[1] not in keywords:
                operand, previous = True, kind  # the commonest token: a plain name
            elif kind in _LAYOUT:
                line_start = self._layout(token, line_start)
                operand, previous = False, kind
            else:
                if line_start:
                    self._start_line(token)
                    line_start = False
                operand = self._token(token, operand, previous)
                previous = kind

    def _layout(self, token: tokenize.TokenInfo, line_start: bool) -> bool:
        """A new line, indent or dedent; whether the next token starts a line."""
        kind = token.type
        if kind == tokenize.INDENT:
            self.blocks.append(self.blocks[-1] + self.elifs[-1] + 3)
            self.elifs.append(0)
            self._reach(self.blocks[-1] + 4, token)
        elif kind == tokenize.DEDENT and len(self.blocks) > 1:
            self.blocks.pop()
            self.elifs.pop()
        return line_start or kind == tokenize.NEWLINE

    def _start_line(self, token: tokenize.TokenInfo) -> None:
        """A new logical line: an `elif` nests one deeper than the branch before it."""
        if token.string == "elif":
            self.elifs[-1] += 1
        elif token.string not in ("else", "except", "finally"):
            self.elifs[-1] = 0
        self.frames = [_Frame(self.blocks[-1] + self.elifs[-1] + 4)]
        self._reach(self.frames[0].base, token)

    def _token(self, token: tokenize.TokenInfo, operand: bool, previous: int) -> bool:
        """Account for one token; whether it ends an operand (so `(` or `[` after it trails)."""
        kind, text, frame = token.type, token.string, self.frames[-1]
        if kind == tokenize.OP:
            if text in _BRACKETS:
                if operand:  # a call or subscript
                    self._step(frame, token)
                self._open(frame, _BRACKETS[text], token)
                return False
            if text in _CLOSERS:
                self._close(token)
                return True
            if text == ":" and frame.closes == ":":
                self._pop(token)  # the end of a lambda's parameters
                return False
            if text in _SEPARATORS:
                frame.run = frame.floor
                if not frame.floor:
                    frame.carried = 0
                return False
            if text in _NEUTRAL:
                return text == "..."
            self._step(frame, token)
            return False
        if kind == tokenize.NAME:
            if text not in _KEYWORD_OPERATORS:
                return True
            self._step(frame, token)
            if text == "for" and len(self.frames) > 1:  # a comprehension
                frame.floor = frame.run
            elif text == "lambda":
                self._open(frame, ":", token)
            return False
        if kind == tokenize.STRING:
            if previous == tokenize.STRING:  # implicit concatenation nests in libcst
                self._step(frame, token)
            self._fstring(frame, token)
            return True
        return kind == tokenize.NUMBER

    def _open(self, frame: _Frame, closes: str, token: tokenize.TokenInfo) -> None:
        inner = _Frame(frame.base + frame.run + 2, closes)
        self.frames.append(inner)
        self._reach(inner.base, token)

    def _close(self, token: tokenize.TokenInfo) -> None:
        """A closing bracket: end open lambda parameters, then the bracket itself."""
        while len(self.frames) > 1:
            if self._pop(token) != ":":
                return

    def _pop(self, token: tokenize.TokenInfo) -> str:
        """End the innermost frame; its depth is carried by the operand it is part of."""
        inner = self.frames.pop()
        self._carry(self.frames[-1], inner.deepest + 2, token)
        return inner.closes

    def _carry(self, frame: _Frame, depth: int, token: tokenize.TokenInfo) -> None:
        frame.carried = max(frame.carried, depth)
        self._grow(frame, token)

    def _step(self, frame: _Frame, token: tokenize.TokenInfo) -> None:
        frame.run += 1
        self._grow(frame, token)

    def _grow(self, frame: _Frame, token: tokenize.TokenInfo) -> None:
        relative = frame.run + frame.carried
        if relative > frame.deepest:
            frame.deepest = relative
            self._reach(frame.base + relative, token)

    def _reach(self, depth: int, token: tokenize.TokenInfo) -> None:
        if depth <= self.deepest:
            return
        self.deepest = depth
        if depth > self.state.limit:
            where = (
                "this indented line"
                if token.type == tokenize.INDENT
                else f"`{token.string[:20]}`"
            )
            self._refuse(
                token,
                f"over the verifier's nesting limit of {self.state.limit} levels: "
                f"{depth} at {where} ({self._describe()})",
            )

    def _describe(self) -> str:
        """What makes the current token deep, for the message."""
        parts = [
            (sum(1 for f in self.frames if f.closes in _CLOSERS), "open bracket"),
            (sum(1 for f in self.frames if f.closes == ":"), "lambda parameter list"),
            (sum(f.run for f in self.frames), "chained operation"),
            (len(self.blocks) - 1, "indented block"),
            (sum(self.elifs), "elif branch"),
        ]
        described = [_counted(count, what) for count, what in parts if count]
        if self.inside_string:
            described.append("inside an f-string")
        return ", ".join(described) or "nested brackets"

    def _refuse(self, token: tokenize.TokenInfo, message: str) -> None:
        row, column = _absolute(self.origin, token.start)
        raise _TooDeep(row, column, message)

    def _fstring(self, frame: _Frame, token: tokenize.TokenInfo) -> None:
        """Scan each replacement field of an f-string token as code nested in it."""
        text = token.string
        prefix = _STRING_PREFIX.match(text).group()  # type: ignore[union-attr]
        if "f" not in prefix.lower():
            return
        quote = 3 if text[len(prefix) : len(prefix) + 3] in ('"""', "'''") else 1
        start = len(prefix) + quote
        position, done = _absolute(self.origin, token.start), 0
        base = frame.base + frame.run
        for offset, field in replacement_fields(text[start:-quote]):
            position = _advance(position, text[done : start + offset])
            done = start + offset
            # In parentheses, as Python parses it: lines and indentation do not count.
            deepest = self.state.run(f"({field})", base, (position[0], position[1] - 1))
            self._carry(frame, deepest - base, token)


def _counted(count: int, what: str) -> str:
    """`1 open bracket`, `2 open brackets`, `3 elif branches`."""
    if count == 1:
        return f"1 {what}"
    return f"{count} {what}{'es' if what.endswith('ch') else 's'}"


def replacement_fields(body: str) -> Iterator[tuple[int, str]]:
    """(offset, expression) of every replacement field in an f-string's body.

    Includes the fields nested in a format spec (`{x:{width}}`); `{{` and
    `}}` are literal braces. Follows Python 3.11's rules: an expression ends
    at a `}`, `!` or `:` outside brackets and strings.
    """
    index, open_fields = 0, 0
    while index < len(body):
        char = body[index]
        if open_fields == 0 and body.startswith(("{{", "}}"), index):
            index += 2
        elif char == "{":
            end = _expression_end(body, index + 1)
            yield index + 1, body[index + 1 : end]
            open_fields += 1
            index = end
        elif char == "}" and open_fields:
            open_fields -= 1
            index += 1
        else:
            index += 1


def _expression_end(body: str, start: int) -> int:
    """Where the expression of a replacement field starting at `start` ends."""
    depth, quote, index = 0, "", start
    while index < len(body):
        if quote:
            if body.startswith(quote, index):
                index, quote = index + len(quote), ""
            else:
                index += 1
            continue
        char = body[index]
        if char in "'\"":
            quote = (
                body[index : index + 3] if body.startswith(char * 3, index) else char
            )
            index += len(quote)
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                return index
            depth -= 1
        elif depth == 0 and (
            char == ":" or (char == "!" and not body.startswith("!=", index))
        ):
            return index
        index += 1
    return index


def _absolute(origin: tuple[int, int], start: tuple[int, int]) -> tuple[int, int]:
    """A token's (row, column) in a text that starts at `origin`, in the file."""
    row, column = start
    if row == 1:
        return origin[0], origin[1] + column
    return origin[0] + row - 1, column


def _advance(origin: tuple[int, int], text: str) -> tuple[int, int]:
    """The (row, column) just after `text`, which starts at `origin`."""
    lines = text.count("\n")
    if lines == 0:
        return origin[0], origin[1] + len(text)
    return origin[0] + lines, len(text) - text.rfind("\n") - 1


__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_LINES",
    "MAX_TOKENS",
    "UnparsableSource",
    "check_source",
    "decode_source",
    "nesting_depth",
    "read_source",
    "refuse",
    "replacement_fields",
]
