"""Snapshots of what wrapgen prints for each broken spec in tests/bad_specs/.

Each `NAME.yaml` there has a `NAME.out` beside it: the exit code, then every
line wrapgen wrote to stderr. Regenerate them all after a deliberate change
of wording with `make snapshots` (which runs this file), and review the diff.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BAD_SPECS = ROOT / "tests" / "bad_specs"


def bad_specs() -> list[Path]:
    return sorted(BAD_SPECS.glob("*.yaml"))


def run_bad_spec(spec: Path, out_dir: Path) -> tuple[int, str, str, object]:
    """Run `wrapgen SPEC -o OUT` in-process from the repository root.

    Returns the exit code, stdout, stderr and any exception other than the
    normal exit.
    """
    from typer.testing import CliRunner

    from codegen.cli import app

    previous = Path.cwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(
            app, [spec.relative_to(ROOT).as_posix(), "-o", str(out_dir / "model.py")]
        )
    finally:
        os.chdir(previous)
    exception = None if isinstance(result.exception, SystemExit) else result.exception
    return result.exit_code, result.stdout, result.stderr, exception


def snapshot(exit_code: int, stderr: str) -> str:
    return f"exit {exit_code}\n{stderr}"


def main() -> int:
    sys.path.insert(0, str(ROOT))
    changed = 0
    for spec in bad_specs():
        with tempfile.TemporaryDirectory() as out_dir:
            code, _, stderr, exception = run_bad_spec(spec, Path(out_dir))
        if exception is not None:
            print(f"{spec.name}: wrapgen raised {exception!r}", file=sys.stderr)
            return 1
        target = spec.with_suffix(".out")
        text = snapshot(code, stderr)
        if not target.exists() or target.read_text("utf-8") != text:
            target.write_text(text, "utf-8")
            changed += 1
            print(f"updated {target.relative_to(ROOT)}")
    print(f"{len(bad_specs())} snapshots, {changed} updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
