"""Cold-start generation time and peak memory, against importing the generation dependencies
and against datamodel-code-generator.

Runs, as separate processes and interleaved: `wrapgen mnist_cnn.yaml -o OUT`,
`python -c "import jinja2, libcst, yaml, typer"` on the same interpreter, and,
when given the path of a `datamodel-codegen` executable (install it in its own
virtualenv: it needs a newer typing-extensions than TFF allows), that tool
generating pydantic models from wrapgen's own spec JSON Schema. Prints the
medians, the ratios and wrapgen's peak resident memory.

Bytecode is on, as after `pip install` (which compiles it): one uncounted run
of each command first writes Python's and Jinja's caches, so every counted
run is a cold process that compiles nothing.

Usage: .venv/bin/python benchmarks/generation.py [RUNS] [DATAMODEL_CODEGEN]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "generated_examples" / "mnist_cnn.yaml"
SCHEMA = ROOT / "schema" / "wrapgen-spec.schema.json"


def timed(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    _, status, usage = os.wait4(process.pid, 0)
    assert status == 0, command
    return time.perf_counter() - start, usage.ru_maxrss


def main(runs: int, datamodel_codegen: str | None) -> None:
    folder = Path(tempfile.mkdtemp())
    out = folder / "model.py"
    commands = {
        "wrapgen": [sys.executable, "-m", "codegen", str(SPEC), "-o", str(out)],
        "imports": [sys.executable, "-c", "import jinja2, libcst, yaml, typer"],
    }
    if datamodel_codegen:
        commands["datamodel-codegen"] = [
            datamodel_codegen,
            "--input",
            str(SCHEMA),
            "--input-file-type",
            "jsonschema",
            "--output",
            str(folder / "models.py"),
        ]
    times: dict[str, list[float]] = {name: [] for name in commands}
    for command in commands.values():
        timed(command)  # writes the bytecode caches; not counted
    peaks = []
    for _ in range(runs):
        for name, command in commands.items():
            if name == "wrapgen":
                out.unlink(missing_ok=True)
            seconds, peak = timed(command)
            times[name].append(seconds)
            if name == "wrapgen":
                peaks.append(peak)
    median = {name: statistics.median(values) for name, values in times.items()}
    print(
        f"wrapgen {SPEC.name} -o OUT: median {median['wrapgen'] * 1000:.0f} ms over {runs} runs"
    )
    print(
        f"import jinja2, libcst, yaml, typer: median {median['imports'] * 1000:.0f} ms; "
        f"ratio {median['wrapgen'] / median['imports']:.2f}x"
    )
    print(f"wrapgen peak RSS {max(peaks) / 1024:.1f} MiB")
    if datamodel_codegen:
        print(
            f"datamodel-codegen on {SCHEMA.name} ({SCHEMA.stat().st_size // 1024} KiB): median "
            f"{median['datamodel-codegen'] * 1000:.0f} ms; wrapgen takes "
            f"{median['wrapgen'] / median['datamodel-codegen']:.2f}x its time"
        )


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 15,
        sys.argv[2] if len(sys.argv) > 2 else None,
    )
