"""`wrapgen verify`: run the verifier over files and print findings as text or JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from codegen import forked
from codegen.errors import InternalError, Location, Problem, WrapgenError
from codegen.passes import BY_CODE
from codegen.verify import IGNORE_CODE, Finding, python_files, verify_file

Echo = Callable[..., None]


PARALLEL_MIN_FILES = 8
"""From this many files on, `verify` spreads them over one forked process per core."""


def verify_paths(
    paths: Sequence[Path], output_format: str, codes: list[str] | None, echo: Echo
) -> int:
    """Verify every file under `paths`, print the findings, return the exit code.

    A file that cannot be verified (unreadable, not valid Python, over a
    limit, or an internal error) is one line on stderr; the other files are
    still verified, and the exit code is the most severe of all. Many files
    are verified in forked processes, one per core; what is printed does not
    depend on it.
    """
    findings: list[Finding] = []
    exit_code = 0
    files = list(python_files(paths))
    outcomes = forked.each(
        _verify_one,
        files,
        minimum=PARALLEL_MIN_FILES,
        lost="file(s) were not verified",
    )
    for found, error in outcomes:
        if error is not None:
            echo(error[0], err=True)
            exit_code = max(exit_code, error[1])
            continue
        if codes is not None:
            found = [f for f in found if f.code in codes or f.code == IGNORE_CODE]
        findings.extend(found)
    findings.sort()
    if output_format == "json":
        echo(json.dumps([asdict(f) for f in findings], indent=2))
    else:
        for finding in findings:
            echo(str(finding))
    if findings:
        exit_code = max(exit_code, 1)
    return exit_code


def _verify_one(path: Path) -> tuple[list[Finding], tuple[str, int] | None]:
    """The findings in one file, or the line and exit code saying why it has none."""
    try:
        return verify_file(path), None
    except WrapgenError as error:
        return [], (str(error), error.exit_code)
    except Exception as error:  # noqa: BLE001 - a bug in wrapgen, confined to this file
        problem = Problem(
            Location(str(path), 1, 1),
            "",
            f"internal error in wrapgen: {error!r}; please report it with this file",
        )
        return [], (str(problem), InternalError.exit_code)


def unknown_codes(codes: Sequence[str]) -> list[str]:
    return [code for code in codes if code not in BY_CODE]


def describe_rules(code: str | None) -> tuple[str, int]:
    """The rule table, or one rule's documentation; exit code 2 for an unknown code."""
    if code is None:
        lines = [
            f"{rule.CODE}  {rule.NAME:<15} {rule.MESSAGE}" for rule in BY_CODE.values()
        ]
        lines.append(
            f"{IGNORE_CODE}  {'ignore-comment':<15} a `# wrapgen: ignore[...]` "
            "comment names no rule or an unknown one"
        )
        return "\n".join(lines), 0
    rule = BY_CODE.get(code)
    if rule is None:
        return f"--explain: unknown rule code {code!r} (rules: {', '.join(BY_CODE)})", 2
    return (rule.__doc__ or "").strip(), 0
