"""Which spec to generate into which file, from command-line paths or the project config.

A path may be a spec (YAML) or a generated module: a module names its spec
in its header, so `wrapgen check model.py` checks it against that spec.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from codegen.config import Config, load_config
from codegen.errors import Location, Problem, SpecError, UsageError
from codegen.header import GENERATED_MARKER, spec_ref_of

SPEC_SUFFIXES = (".yaml", ".yml")
_SPEC_KEY = re.compile(rb"^wrapgen\s*:", re.MULTILINE)


@dataclass(frozen=True)
class Target:
    """One spec, and where its module goes when that is known before the spec is read.

    `output` is a generated module given on the command line (it wins over
    everything); `fallback` is the project config's naming, used when the
    spec has no `output` key.
    """

    spec: Path
    output: Path | None = None
    fallback: Path | None = None


def resolve_targets(
    paths: Sequence[Path], *, skip_other_files: bool = False, cwd: Path | None = None
) -> list[Target]:
    """Targets for `paths`, or for the project config when `paths` is empty.

    With `skip_other_files` (for hooks that pass every changed file), paths
    that are neither specs nor generated modules are ignored.
    """
    if not paths:
        config = load_config(cwd or Path.cwd())
        if config is None:
            raise UsageError(
                "no PATH given and no [tool.wrapgen] table in the nearest pyproject.toml; "
                "pass spec files or generated modules, or configure specs there"
            )
        here = (cwd or Path.cwd()).resolve()
        return [
            Target(short, fallback=_configured_output(config, short))
            for short in (_shorter(spec, here) for spec in config.spec_paths())
        ]
    config = load_config(cwd or Path.cwd())
    targets: list[Target] = []
    seen: set[Path] = set()
    for path in paths:
        target = _target(path, config, skip_other_files)
        if target is None:
            continue
        key = target.spec.resolve()
        if key in seen:
            # A spec and its module both given (as a hook does): keep the module's target.
            if target.output is not None:
                targets = [t for t in targets if t.spec.resolve() != key] + [target]
            continue
        seen.add(key)
        targets.append(target)
    return targets


def _target(path: Path, config: Config | None, skip_other_files: bool) -> Target | None:
    if path.suffix == ".py":
        return _module_target(path, skip_other_files)
    if skip_other_files and not _looks_like_spec(path):
        return None
    return Target(path, fallback=_configured_output(config, path))


def _module_target(path: Path, skip_other_files: bool) -> Target | None:
    try:
        with path.open("rb") as handle:
            first = handle.readline(4096).decode("utf-8", "replace")
    except FileNotFoundError:
        if skip_other_files:
            return None
        raise _problem(path, "no such file") from None
    except OSError as exc:
        raise _problem(path, f"cannot read: {exc.strerror}") from None
    spec_ref = spec_ref_of(first)
    if spec_ref is None:
        if skip_other_files:
            return None
        what = (
            "a wrapgen module with an unreadable header"
            if first.startswith(GENERATED_MARKER)
            else "a spec or a wrapgen-generated module"
        )
        raise _problem(
            path, f"expected {what}, found a Python file without wrapgen's header"
        )
    return Target(path.parent / spec_ref, path)


def _looks_like_spec(path: Path) -> bool:
    """A YAML file with a top-level `wrapgen:` key (read as bytes; nothing is parsed)."""
    if path.suffix not in SPEC_SUFFIXES:
        return False
    try:
        return bool(_SPEC_KEY.search(path.read_bytes()[: 1024 * 1024]))
    except OSError:
        return False


def _configured_output(config: Config | None, spec: Path) -> Path | None:
    """The config's output for `spec` when the spec is one the config lists."""
    if config is None or config.output == "{stem}.py":
        return None
    return config.output_for(spec) if config.lists(spec) else None


def _shorter(path: Path, here: Path) -> Path:
    """`path` relative to `here` when it is inside it, for shorter messages."""
    try:
        return path.resolve().relative_to(here)
    except ValueError:
        return path


def _problem(path: Path, message: str) -> SpecError:
    return SpecError([Problem(Location(str(path), 1, 1), "", message)])
