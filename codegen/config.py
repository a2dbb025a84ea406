"""The project's `[tool.wrapgen]` table: which specs to generate when no path is given.

```toml
[tool.wrapgen]
specs = ["models/**/*.yaml"]   # globs, relative to the folder of pyproject.toml
output = "{stem}.py"           # module path relative to each spec's folder ({stem}: spec name)
```

A spec's own `output:` key wins over `output` here. The table may come from a
pull request, so it is data: `output` is a path template whose only
placeholder is `{stem}` (parsed as a template, never given to `str.format`),
the globs are relative and never climb with `..`, and a match whose real
location is outside the project root (the folder of pyproject.toml) is an error.
"""

from __future__ import annotations

import functools
import string
import sys
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

from codegen.errors import UsageError, printable
from codegen.files import (
    NotRegularFile,
    OutsideRoot,
    is_inside,
    read_regular,
    require_inside,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.9 and 3.10 only
    import tomli as tomllib

DEFAULT_OUTPUT = "{stem}.py"
MAX_PYPROJECT_BYTES = 1024 * 1024
"""A pyproject.toml larger than this is refused before parsing."""


@dataclass(frozen=True)
class Config:
    """`[tool.wrapgen]` of one pyproject.toml."""

    path: Path
    specs: tuple[str, ...]
    output: str = DEFAULT_OUTPUT

    @property
    def root(self) -> Path:
        """The project root: the (real) folder of this pyproject.toml."""
        return self.path.parent

    def spec_paths(self) -> list[Path]:
        """Every spec the globs match, sorted, each once.

        Raises UsageError when a match's real location (through a symlinked
        folder or file) is outside the project root.
        """
        matches = _matches(self.root, self.specs)
        problems = []
        for match in matches:
            try:
                require_inside(match, self.root, "a spec [tool.wrapgen] specs matched")
            except OutsideRoot as outside:
                problems.append(str(outside))
        if problems:
            raise UsageError("\n".join(problems))
        return list(matches)

    def lists(self, spec: Path) -> bool:
        """Whether `spec` is one of the specs the globs match inside the project root."""
        return spec.resolve() in {
            path.resolve()
            for path in _matches(self.root, self.specs)
            if is_inside(path, self.root)
        }

    def output_for(self, spec: Path) -> Path:
        """The module of `spec` by this table's `output` template, in the spec's folder."""
        return spec.parent / fill(self.output, spec.stem)


def fill(template: str, stem: str) -> str:
    """`template` with each `{stem}` replaced by `stem` (a validated template; no formatting)."""
    return "".join(
        literal + (stem if field is not None else "")
        for literal, field, _, _ in string.Formatter().parse(template)
    )


@functools.lru_cache(maxsize=8)
def _matches(root: Path, patterns: tuple[str, ...]) -> tuple[Path, ...]:
    found = {
        match for pattern in patterns for match in root.glob(pattern) if match.is_file()
    }
    return tuple(sorted(found))


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml in `start` or a parent folder."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(start: Path) -> Config | None:
    """The `[tool.wrapgen]` table of the nearest pyproject.toml, or None when there is none."""
    path = find_pyproject(start.resolve())
    if path is None:
        return None
    table = _read_table(path)
    if table is None:
        return None
    where = f"{printable(path)}: [tool.wrapgen]"
    if not isinstance(table, dict):
        raise UsageError(f"{where}: expected a table, found {type(table).__name__}")
    unknown = sorted(set(table) - {"specs", "output"})
    if unknown:
        raise UsageError(
            f"{where}: expected the keys specs and output, "
            f"found unknown {printable(', '.join(unknown))}"
        )
    specs = table.get("specs")
    problem = _specs_problem(specs)
    if problem:
        raise UsageError(f"{where}.specs: {problem}")
    output = table.get("output", DEFAULT_OUTPUT)
    problem = _output_problem(output)
    if problem:
        raise UsageError(f"{where}.output: {problem}")
    return Config(path, tuple(specs), output)  # type: ignore[arg-type]


def _read_table(path: Path) -> object:
    """The `tool.wrapgen` value of the pyproject.toml at `path` (None when absent)."""
    try:
        raw = read_regular(path, MAX_PYPROJECT_BYTES)
        if len(raw) > MAX_PYPROJECT_BYTES:
            raise UsageError(
                f"{printable(path)}: cannot read: larger than {MAX_PYPROJECT_BYTES} bytes"
            )
        data = tomllib.loads(raw.decode("utf-8"))
    except NotRegularFile as exc:
        raise UsageError(f"{printable(path)}: cannot read: {exc}") from None
    except OSError as exc:
        raise UsageError(
            f"{printable(path)}: cannot read: {exc.strerror or exc}"
        ) from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{printable(path)}: cannot read: {printable(exc)}") from None
    tool = data.get("tool", {})
    return tool.get("wrapgen") if isinstance(tool, dict) else None


def _specs_problem(specs: object) -> str | None:
    """Why `specs` is not a list of globs relative to the project root, or None."""
    if (
        not isinstance(specs, list)
        or not specs
        or not all(isinstance(s, str) and s for s in specs)
    ):
        return f"expected a non-empty list of glob strings, found {specs!r}"
    for pattern in specs:
        if not _relative_inside(pattern):
            return (
                "expected globs relative to the folder of pyproject.toml, without "
                f"'..' or '\\', found {pattern!r}"
            )
    return None


def _output_problem(output: object) -> str | None:
    """Why `output` is not a module path template using only `{stem}`, or None.

    The template is parsed, not tried: any field but `{stem}`, a conversion
    (`!r`), a format spec (`:>4`), attribute or index access (`.x`, `[0]`),
    positional fields and literal braces are refused; the literal text must
    make a relative path ending in .py that never climbs with `..`.
    """
    if not isinstance(output, str):
        return f"expected a string, found {output!r}"
    if not _only_stem(output):
        return f"expected a path pattern using only {{stem}}, found {output!r}"
    if not output.endswith(".py") or not _relative_inside(fill(output, "stem")):
        return (
            "expected a relative path ending in .py inside the spec's folder, "
            f"found {output!r}"
        )
    return None


def _only_stem(template: str) -> bool:
    """Whether `template` parses as literal text (no braces) and bare `{stem}` fields."""
    try:
        pieces = list(string.Formatter().parse(template))
    except ValueError:  # an unbalanced brace
        return False
    return all(
        "{" not in literal
        and "}" not in literal
        and (field is None or (field == "stem" and not spec and conversion is None))
        for literal, field, spec, conversion in pieces
    )


def _relative_inside(pattern: str) -> bool:
    """Whether `pattern` is a printable relative path with `/` separators and no `..` part."""
    parts = pattern.split("/")
    return (
        pattern.isprintable()
        and "\\" not in pattern
        and not pattern.startswith("/")
        and not PureWindowsPath(pattern).drive
        and ".." not in parts
    )
