"""Stage 5, verify: run every libcst pass on a module's source and collect sorted findings.

The same verifier checks modules wrapgen renders (before anything is written)
and model files written by hand (`wrapgen verify`). The passes live in
`codegen.passes`, one rule per module. A line can opt out of named rules with
`# wrapgen: ignore[WG301]` (several codes separated by commas); generated
modules never honour such comments.

Every source is untrusted: `codegen.pysource` decodes it and bounds its size
and nesting before libcst parses it, and an unexpected exception while
analysing one module is a located internal error for that module alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import libcst as cst

from codegen.errors import InternalError, Location, Problem, SpecError, WrapgenError
from codegen.header import spec_ref_of
from codegen.passes import BY_CODE, PASSES
from codegen.passes.analysis import Finding, SourceModule
from codegen.pysource import UnparsableSource, check_source, read_source, refuse

IGNORE_CODE = "WG002"
"""The rule code of a malformed or unknown `# wrapgen: ignore[...]` comment."""

_IGNORE = re.compile(r"#\s*wrapgen:\s*ignore\b(?:\[([^\]]*)\])?")


def verify_source(
    source: str,
    path: str,
    *,
    generated: bool | None = None,
    keras_builder: str | None = None,
    keras_builder_problem: str | None = None,
    select: Iterable[str] | None = None,
    rendered: bool = False,
) -> list[Finding]:
    """All findings in `source`, sorted by position.

    `generated` (default: the source starts with wrapgen's header) turns on
    the generated-module rules and turns off ignore comments. `keras_builder`
    is the `module:function` the spec names, when known. `select` limits the
    run to some rule codes. `rendered` means `source` is wrapgen's own
    rendering of a validated spec, not a file: its size is already bounded and
    its nesting is the templates' (a few levels), so the guards that protect
    the parser from hostile files are skipped.
    """
    if not rendered:
        check_source(source, path)
    try:
        return _verify_parsed(
            SourceModule(
                source,
                path,
                generated=generated,
                keras_builder=keras_builder,
                keras_builder_problem=keras_builder_problem,
            ),
            select,
        )
    except cst.ParserSyntaxError as exc:
        raise refuse(
            path,
            exc.raw_line,
            exc.raw_column + 1,
            f"valid Python that libcst cannot parse: {exc.message}",
        ) from None
    except WrapgenError:
        raise
    except Exception as exc:  # analysing parsable code must never crash
        raise _internal_error(path, "while analysing the module", exc) from exc


def _verify_parsed(module: SourceModule, select: Iterable[str] | None) -> list[Finding]:
    """Run the chosen passes on a parsed module and apply its ignore comments."""
    chosen = set(select) if select is not None else set(BY_CODE)
    findings: list[Finding] = []
    for rule in PASSES:
        if rule.CODE not in chosen:
            continue
        try:
            findings.extend(rule.check(module))
        except Exception as exc:  # a pass must never crash on parsable code
            raise _internal_error(
                module.path, f"in wrapgen's {rule.CODE} {rule.NAME} pass", exc
            ) from exc
    if not module.generated:
        findings = _apply_ignores(module, findings)
    return sorted(set(findings))


def _internal_error(path: str, where: str, exc: Exception) -> InternalError:
    """A bug in wrapgen, reported on one line at the start of the module (exit 3)."""
    return InternalError(
        str(
            Problem(
                Location(path, 1, 1),
                "",
                f"internal error {where}: {exc!r}; please report it with this file",
            )
        )
    )


def _apply_ignores(module: SourceModule, findings: list[Finding]) -> list[Finding]:
    ignored: dict[int, set[str]] = {}
    problems: list[Finding] = []
    for line, comment, match in module.suppressions(_IGNORE):
        codes = [c.strip() for c in (match.group(1) or "").split(",") if c.strip()]
        if not codes:
            problems.append(
                module.finding(
                    comment,
                    IGNORE_CODE,
                    "`# wrapgen: ignore` must name the rules it silences, e.g. "
                    "`# wrapgen: ignore[WG301]`",
                )
            )
        for code in codes:
            if code not in BY_CODE:
                problems.append(
                    module.finding(
                        comment,
                        IGNORE_CODE,
                        f"`# wrapgen: ignore` names unknown rule {code!r} "
                        f"(rules: {', '.join(BY_CODE)})",
                    )
                )
        ignored.setdefault(line, set()).update(codes)
    kept = [f for f in findings if f.code not in ignored.get(f.line, ())]
    return kept + problems


def verify_file(path: Path) -> list[Finding]:
    """Verify the Python file at `path`.

    Raises `SpecError` when it cannot be read and `UnparsableSource` when it
    cannot be decoded, is not valid Python or is over a limit.
    """
    shown = str(path)
    try:
        source = read_source(path, shown)
    except FileNotFoundError:
        raise _unreadable(shown, "no such file") from None
    except IsADirectoryError:
        raise _unreadable(shown, "expected a Python file, found a directory") from None
    except OSError as exc:
        raise _unreadable(shown, f"cannot read file: {exc.strerror}") from None
    builder, problem = _keras_builder(path, source)
    return verify_source(
        source, shown, keras_builder=builder, keras_builder_problem=problem
    )


def python_files(paths: Sequence[Path]) -> list[Path]:
    """The files to verify: each file given, and the `*.py` files under each directory."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(
                    p for p in path.rglob("*.py") if not _hidden(p.relative_to(path))
                )
            )
        else:
            files.append(path)
    return files


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") or part == "__pycache__" for part in relative.parts)


def _unreadable(shown: str, message: str) -> SpecError:
    return SpecError([Problem(Location(shown, 1, 1), "", message)])


def _keras_builder(path: Path, source: str) -> tuple[str | None, str | None]:
    """The Keras builder the spec of a generated module names, or why it is unknown."""
    spec_ref = spec_ref_of(source)
    if spec_ref is None or "_build_keras_model" not in source:
        return None, None
    from codegen.load import load_spec
    from codegen.spec import KerasBuilder
    from codegen.validate import validate

    spec_path = path.parent / spec_ref
    try:
        spec = validate(load_spec(spec_path))
    except WrapgenError:
        return None, f"its spec {spec_ref} cannot be read or is invalid"
    if isinstance(spec.forward, KerasBuilder):
        return f"{spec.forward.module}:{spec.forward.function}", None
    return None, f"its spec {spec_ref} names no Keras builder"


__all__ = [
    "Finding",
    "UnparsableSource",
    "python_files",
    "verify_file",
    "verify_source",
]
