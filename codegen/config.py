"""The project's `[tool.wrapgen]` table: which specs to generate when no path is given.

```toml
[tool.wrapgen]
specs = ["models/**/*.yaml"]   # globs, relative to the folder of pyproject.toml
output = "{stem}.py"           # module path relative to each spec's folder ({stem}: spec name)
```

A spec's own `output:` key wins over `output` here.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from pathlib import Path

from codegen.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.9 and 3.10 only
    import tomli as tomllib

DEFAULT_OUTPUT = "{stem}.py"


@dataclass(frozen=True)
class Config:
    """`[tool.wrapgen]` of one pyproject.toml."""

    path: Path
    specs: tuple[str, ...]
    output: str = DEFAULT_OUTPUT

    @property
    def root(self) -> Path:
        return self.path.parent

    def spec_paths(self) -> list[Path]:
        """Every spec the globs match, sorted, each once."""
        return list(_matches(self.root, self.specs))

    def lists(self, spec: Path) -> bool:
        """Whether `spec` is one of the specs the globs match."""
        return spec.resolve() in {
            path.resolve() for path in _matches(self.root, self.specs)
        }

    def output_for(self, spec: Path) -> Path:
        return spec.parent / self.output.format(stem=spec.stem)


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
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    table = data.get("tool", {}).get("wrapgen")
    if table is None:
        return None
    where = f"{path}: [tool.wrapgen]"
    if not isinstance(table, dict):
        raise UsageError(f"{where}: expected a table, found {type(table).__name__}")
    unknown = sorted(set(table) - {"specs", "output"})
    if unknown:
        raise UsageError(
            f"{where}: expected the keys specs and output, found unknown {', '.join(unknown)}"
        )
    specs = table.get("specs")
    if (
        not isinstance(specs, list)
        or not specs
        or not all(isinstance(s, str) and s for s in specs)
    ):
        raise UsageError(
            f"{where}.specs: expected a non-empty list of glob strings, found {specs!r}"
        )
    output = table.get("output", DEFAULT_OUTPUT)
    problem = _output_problem(output)
    if problem:
        raise UsageError(f"{where}.output: {problem}")
    return Config(path, tuple(specs), output)


def _output_problem(output: object) -> str | None:
    if not isinstance(output, str):
        return f"expected a string, found {output!r}"
    try:
        rendered = output.format(stem="model")
    except (KeyError, IndexError, ValueError):
        return f"expected a path pattern using only {{stem}}, found {output!r}"
    parts = rendered.replace("\\", "/").split("/")
    if not rendered.endswith(".py") or rendered.startswith("/") or ".." in parts:
        return f"expected a relative path ending in .py inside the spec's folder, found {output!r}"
    return None
