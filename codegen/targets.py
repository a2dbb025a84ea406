"""Which spec to generate into which file, from command-line paths or the project config.

A path may be a spec (YAML) or a generated module: a module names its spec
in its header, so `wrapgen check model.py` checks it against that spec.

Every target carries its project root (see `codegen.files`). A path named on
the command line must really be inside its root (a symlink out of the
project is refused), and so must the spec a module's header names; that spec
is read only when it is one (a top-level `wrapgen:` key), so a header that
names some other file never gets its content parsed or printed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from codegen.config import Config, load_config
from codegen.errors import Location, Problem, SpecError, UsageError, printable
from codegen.files import (
    HEADER_BYTES,
    NotRegularFile,
    OutsideRoot,
    read_regular,
    require_inside,
    root_of_named,
)
from codegen.header import GENERATED_MARKER, spec_ref_of
from codegen.load import MAX_SPEC_BYTES

SPEC_SUFFIXES = (".yaml", ".yml")
_SPEC_KEY = re.compile(rb"^wrapgen\s*:", re.MULTILINE)


@dataclass(frozen=True)
class Target:
    """One spec, and where its module goes when that is known before the spec is read.

    `output` is a path named on the command line: a generated module (it wins
    over everything) or `-o`. `fallback` is the project config's naming, used
    when the spec has no `output` key. `root` is the project root: the spec,
    and an output the spec or the config chooses, must be inside it.
    """

    spec: Path
    output: Path | None = None
    fallback: Path | None = None
    root: Path | None = None


def resolve_targets(
    paths: Sequence[Path], *, skip_other_files: bool = False, cwd: Path | None = None
) -> list[Target]:
    """Targets for `paths`, or for the project config when `paths` is empty.

    With `skip_other_files` (for hooks that pass every changed file), paths
    that are neither specs nor generated modules are ignored, and so are
    paths that are not regular files or lead out of the project.
    """
    config = load_config(cwd or Path.cwd())
    if not paths:
        if config is None:
            raise UsageError(
                "no PATH given and no [tool.wrapgen] table in the nearest pyproject.toml; "
                "pass spec files or generated modules, or configure specs there"
            )
        return _configured_targets(config, (cwd or Path.cwd()).resolve())
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


def _configured_targets(config: Config, here: Path) -> list[Target]:
    """A target for every spec `[tool.wrapgen] specs` matches; each must be a spec."""
    targets = []
    for spec in config.spec_paths():
        short = _shorter(spec, here)
        _require_spec(short, short, "matched by [tool.wrapgen] specs")
        fallback = _configured_output(config, short)
        targets.append(Target(short, fallback=fallback, root=config.root))
    return targets


def named_target(spec: Path, output: Path | None, cwd: Path | None = None) -> Target:
    """The target of `wrapgen SPEC -o OUTPUT`: the user's own output, the spec's root."""
    config = load_config(cwd or Path.cwd())
    root = _named_root(spec, config)
    return Target(spec, output, root=root)


def _named_root(path: Path, config: Config | None) -> Path:
    """The root of a path named on the command line; raises when it really lies outside."""
    root = root_of_named(path, config.root if config else None)
    try:
        require_inside(path, root, "the file it names")
    except OutsideRoot as outside:
        raise UsageError(str(outside)) from None
    return root


def _target(path: Path, config: Config | None, skip_other_files: bool) -> Target | None:
    try:
        root = _named_root(path, config)
    except UsageError:
        if skip_other_files:
            return None
        raise
    if path.suffix == ".py":
        return _module_target(path, root, skip_other_files)
    if skip_other_files and not _looks_like_spec(path):
        return None
    return Target(path, fallback=_configured_output(config, path), root=root)


def _module_target(path: Path, root: Path, skip_other_files: bool) -> Target | None:
    try:
        first = _first_line(path)
    except FileNotFoundError:
        if skip_other_files:
            return None
        raise _problem(path, "no such file") from None
    except NotRegularFile as exc:
        if skip_other_files:
            return None
        raise _problem(path, str(exc)) from None
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
    spec = path.parent / spec_ref
    _check_header_spec(path, spec, root)
    return Target(spec, path, root=root)


def _first_line(path: Path) -> str:
    """The first line of the file at `path` (a regular file; at most HEADER_BYTES read)."""
    head = read_regular(path, HEADER_BYTES)[:HEADER_BYTES]
    return head.split(b"\n", 1)[0].decode("utf-8", "replace")


def _check_header_spec(module: Path, spec: Path, root: Path) -> None:
    """Raise unless the spec a module's header names is inside the root and is a spec."""
    try:
        require_inside(
            spec, root, f"the spec named in the header of {printable(module)}"
        )
    except OutsideRoot as outside:
        raise UsageError(str(outside)) from None
    if not spec.exists() and not spec.is_symlink():
        raise _problem(
            module,
            f"its header names the spec {printable(spec)}, which does not exist: restore "
            "the spec (e.g. from version control), or, if it moved, regenerate from its "
            f"new path with `wrapgen NEW_SPEC -o {printable(_quoted(module))}`, or, if the "
            "model is gone, delete this module",
        )
    _require_spec(spec, module, f"its header names {printable(spec)}")


def _quoted(path: Path) -> str:
    import shlex  # only messages about a missing or foreign spec need it

    return shlex.quote(str(path))


def _require_spec(spec: Path, blamed: Path, how: str) -> None:
    """Raise, naming `blamed`, unless `spec` is a regular file with a top-level `wrapgen:` key.

    For a spec that wrapgen found (in a header, by a glob) rather than was
    given: anything else is refused without parsing, so its content is never
    quoted in a message. A missing or oversized spec is left to the loader.
    """
    try:
        raw = read_regular(spec, MAX_SPEC_BYTES)
    except FileNotFoundError:
        return
    except NotRegularFile as exc:
        raise _problem(blamed, f"{how}: {exc}") from None
    except OSError as exc:
        raise _problem(blamed, f"{how}: cannot read: {exc.strerror}") from None
    if len(raw) <= MAX_SPEC_BYTES and not _SPEC_KEY.search(raw):
        raise _problem(
            blamed,
            f"{how}, which is not a wrapgen spec (no top-level `wrapgen:` key); "
            "its content is not shown",
        )


def _looks_like_spec(path: Path) -> bool:
    """A YAML regular file with a top-level `wrapgen:` key (bytes searched; nothing parsed)."""
    if path.suffix not in SPEC_SUFFIXES:
        return False
    try:
        return bool(_SPEC_KEY.search(read_regular(path, MAX_SPEC_BYTES)))
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
