"""Regenerating and checking 100 specs in one `wrapgen` process (goal: under 2 s each).

Builds a temporary project with 100 specs (the five examples, 20 renamed
copies each, listed by a [tool.wrapgen] table), then times, as separate
processes: `wrapgen generate` writing all 100 modules, `wrapgen check` on
the fresh tree, and `wrapgen generate` again (all already fresh).
Usage: .venv/bin/python benchmarks/many_specs.py [RUNS]
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "generated_examples"


def make_project(folder: Path, count: int = 100) -> None:
    specs = sorted(EXAMPLES.glob("*.yaml"))
    (folder / "models").mkdir()
    shutil.copy(EXAMPLES / "keras_builders.py", folder / "models")
    for index in range(count):
        source = specs[index % len(specs)]
        text = source.read_text("utf-8")
        text = re.sub(r"(\n  name: )(\w+)", rf"\g<1>\g<2>N{index}", text, count=1)
        (folder / "models" / f"{source.stem}_{index}.yaml").write_text(text, "utf-8")
    (folder / "pyproject.toml").write_text(
        '[tool.wrapgen]\nspecs = ["models/*.yaml"]\n'
    )


def timed(args: list[str], cwd: Path, expect: int = 0) -> float:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "codegen", *args], cwd=cwd, capture_output=True
    )
    assert result.returncode == expect, result.stderr.decode()[-2000:]
    return time.perf_counter() - start


def main(runs: int) -> None:
    rows: dict[str, list[float]] = {
        "generate (writes 100)": [],
        "check (100 fresh)": [],
        "generate (100 fresh)": [],
    }
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            project = Path(folder)
            make_project(project)
            rows["generate (writes 100)"].append(timed(["generate"], project))
            rows["check (100 fresh)"].append(timed(["check"], project))
            rows["generate (100 fresh)"].append(timed(["generate"], project))
    for name, times in rows.items():
        print(
            f"{name}: median {statistics.median(times):.2f} s over {runs} runs (min {min(times):.2f} s)"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
