"""Runs load -> validate -> plan -> render -> verify for one spec.

Given the project root (see `codegen.files`), it also holds the spec and the
module to it: the spec is read only when its real location is inside the root
and it is a regular file, and a module path that the spec's `output:` or the
project config chose must really be inside the root too. Every module path
must be importable as a module that hides nothing the generated code imports.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from codegen.errors import (
    FindingsError,
    InternalError,
    Location,
    Problem,
    SpecError,
    UsageError,
    WrapgenError,
    printable,
)
from codegen.files import OutsideRoot, refusal, require_inside, special_kind
from codegen.load import LoadedSpec, load_spec
from codegen.names import module_name_problem
from codegen.plan import plan
from codegen.prefork import verify_source
from codegen.pysource import MAX_BYTES, UnparsableSource
from codegen.render import render
from codegen.spec import KerasBuilder, Spec, digest
from codegen.validate import validate


@dataclass(frozen=True)
class Generated:
    """The module generated from one spec and where it belongs."""

    spec_path: Path
    spec: Spec
    output: Path | None
    text: str


def default_output(spec_path: Path, spec_output: str | None) -> Path:
    """Where a spec's module goes when no -o is given: its `output`, else a sibling .py."""
    if spec_output:
        return spec_path.parent / spec_output
    return spec_path.with_suffix(".py")


def module_problem(target: Path, spec: Spec) -> str | None:
    """Why the module `target` could not be imported as itself, or None.

    It must be NAME.py with NAME a Python module name that is not a keyword
    and hides no module of Python, TensorFlow, TFF or wrapgen, nor the
    top-level package of the spec's Keras builder (the generated code
    imports them, and scripts beside it would import the module instead).
    """
    if not target.name.endswith(".py"):
        problem = f"expected a module file ending in .py, found {target.name!r}"
    else:
        stem = target.name[: -len(".py")]
        problem = module_name_problem(stem) or _builder_problem(stem, spec)
    if problem is None:
        return None
    return f"the module would be {printable(target)}: {problem}"


def _builder_problem(stem: str, spec: Spec) -> str | None:
    forward = spec.forward
    if isinstance(forward, KerasBuilder) and stem == forward.module.split(".")[0]:
        return (
            "expected a module name that does not hide the package of the Keras "
            f"builder {forward.module}:{forward.function}, found {stem!r}"
        )
    return None


def _check_output(spec_path: Path, target: Path, spec: Spec) -> None:
    """Raise unless `target` is a regular file or nothing, named as an importable module."""
    kind = special_kind(target)
    if kind is not None:
        raise UsageError(refusal(target, kind))
    problem = module_problem(target, spec)
    if problem:
        raise UsageError(f"{printable(spec_path)}: {problem}")


def _inside(path: Path, root: Path, what: str) -> None:
    try:
        require_inside(path, root, what)
    except OutsideRoot as outside:
        raise UsageError(str(outside)) from None


def _load(spec_path: Path) -> LoadedSpec:
    """`load_spec`, after refusing a spec that is not a regular file.

    A FIFO would block the read forever and a device never ends; this is
    decided by `stat`, without opening the path.
    """
    kind = special_kind(spec_path)
    if kind is not None and kind != "a directory":  # the loader reports a directory
        where = Location(str(spec_path), 1, 1)
        raise SpecError([Problem(where, "", f"expected a regular file, found {kind}")])
    return load_spec(spec_path)


def relative_ref(target: Path, start: Path) -> str:
    """`target` relative to directory `start`, with forward slashes."""
    return Path(os.path.relpath(target.resolve(), start.resolve())).as_posix()


def generate(
    spec_path: Path,
    output: Path | None = None,
    to_stdout: bool = False,
    fallback: Path | None = None,
    read_existing: Callable[[Path], str | None] | None = None,
    root: Path | None = None,
) -> Generated:
    """Generate and verify the module for the spec at `spec_path`.

    `output` overrides where the module goes; otherwise the spec's `output`
    key decides, then `fallback` (the project config's naming), then a
    sibling `.py`. `to_stdout` means the module is printed, so the header
    names the spec relative to the working directory.

    `read_existing(target)` returns the text already at the output, if any: a
    rendering identical to it is not verified again. Verification is a
    function of the text alone and wrapgen emits no text that failed it, so
    identical text has passed; this keeps checking many fresh modules fast.

    With `root` (the project root), the spec and a module path the spec or
    `fallback` chose must really be inside it, and a module path must be an
    importable module name (see `module_problem`); `output` is the caller's
    own choice (a path named on the command line) and may be anywhere.
    """
    if root is not None:
        _inside(spec_path, root, "the spec")
    loaded = _load(spec_path)
    spec = validate(loaded)
    if output is not None:
        target = output
    elif spec.output is None and fallback is not None:
        target = fallback
    else:
        target = default_output(spec_path, spec.output)
    if root is not None and not to_stdout:
        if output is None:
            _inside(target, root, "the module its output or [tool.wrapgen] names")
        _check_output(spec_path, target, spec)
    base = Path.cwd() if to_stdout else target.parent
    spec_ref = relative_ref(spec_path, base)
    output_ref = relative_ref(target, base) if not to_stdout else "-"
    sha256 = digest(spec)
    try:
        text = render(plan(spec, spec_ref, output_ref, sha256))
    except WrapgenError:
        raise
    except Exception as exc:  # a valid spec must always render
        raise InternalError(
            f"{printable(loaded.display_path)}: internal error in wrapgen while rendering: "
            f"{exc!r}; please report it with the spec"
        ) from exc
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise SpecError(
            [
                Problem(
                    Location(loaded.display_path, 1, 1),
                    "",
                    f"expected a spec whose module fits the verifier's limit of {MAX_BYTES:,} "
                    f"bytes, found one of {len(text.encode('utf-8')):,} bytes (fewer or "
                    "shorter-named metrics, variables or layers, or fewer masked ids)",
                )
            ]
        )
    if read_existing is not None and not to_stdout and read_existing(target) == text:
        return Generated(spec_path, spec, target, text)
    builder = (
        f"{spec.forward.module}:{spec.forward.function}"
        if isinstance(spec.forward, KerasBuilder)
        else None
    )
    shown = f"<generated from {printable(loaded.display_path)}>"
    try:
        findings = verify_source(
            text, shown, generated=True, keras_builder=builder, rendered=True
        )
    except UnparsableSource as exc:
        raise InternalError(
            f"{printable(loaded.display_path)}: internal error in wrapgen, the rendered module "
            f"is not valid Python: {exc}; please report it with the spec"
        ) from exc
    if findings:
        details = "\n".join(str(finding) for finding in findings)
        raise FindingsError(
            f"{printable(loaded.display_path)}: the generated module fails "
            f"verification:\n{details}"
        )
    return Generated(spec_path, spec, None if to_stdout else target, text)


__all__ = ["Generated", "default_output", "generate", "module_problem"]
