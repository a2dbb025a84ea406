"""Runs load -> validate -> plan -> render -> verify for one spec."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from codegen.errors import FindingsError, InternalError, WrapgenError
from codegen.load import load_spec
from codegen.plan import plan
from codegen.render import render
from codegen.spec import KerasBuilder, Spec, digest
from codegen.validate import validate
from codegen.verify import UnparsableSource, verify_source


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


def relative_ref(target: Path, start: Path) -> str:
    """`target` relative to directory `start`, with forward slashes."""
    return Path(os.path.relpath(target.resolve(), start.resolve())).as_posix()


def generate(
    spec_path: Path,
    output: Path | None = None,
    to_stdout: bool = False,
    fallback: Path | None = None,
    read_existing: Callable[[Path], str | None] | None = None,
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
    """
    loaded = load_spec(spec_path)
    spec = validate(loaded)
    if output is not None:
        target = output
    elif spec.output is None and fallback is not None:
        target = fallback
    else:
        target = default_output(spec_path, spec.output)
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
            f"{loaded.display_path}: internal error in wrapgen while rendering: "
            f"{exc!r}; please report it with the spec"
        ) from exc
    if read_existing is not None and not to_stdout and read_existing(target) == text:
        return Generated(spec_path, spec, target, text)
    builder = (
        f"{spec.forward.module}:{spec.forward.function}"
        if isinstance(spec.forward, KerasBuilder)
        else None
    )
    shown = f"<generated from {loaded.display_path}>"
    try:
        findings = verify_source(text, shown, generated=True, keras_builder=builder)
    except UnparsableSource as exc:
        raise InternalError(
            f"{loaded.display_path}: internal error in wrapgen, the rendered module "
            f"is not valid Python: {exc}; please report it with the spec"
        ) from exc
    if findings:
        details = "\n".join(str(finding) for finding in findings)
        raise FindingsError(
            f"{loaded.display_path}: the generated module fails verification:\n{details}"
        )
    return Generated(spec_path, spec, None if to_stdout else target, text)


__all__ = ["Generated", "default_output", "generate"]
