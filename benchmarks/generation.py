"""Cold-start generation time and peak memory, against importing the generation dependencies
and against datamodel-code-generator.

Runs, as separate processes and interleaved: `wrapgen mnist_cnn.yaml -o OUT`
(on every core, where its verifier runs in a second process while the first
renders; pinned to one core, where both run in one process; and once more
with OUT already written and up to date, which verifies nothing),
`python -c "import jinja2, libcst, yaml, typer"` on the same interpreter, and,
when given the path of a `datamodel-codegen` executable (install it in its own
virtualenv: it needs a newer typing-extensions than TFF allows), that tool
generating pydantic models from wrapgen's own spec JSON Schema. Prints the
medians of wall time and of CPU time (user + system, a process's waited-for
children included), the ratios, and wrapgen's peak resident memory (the
larger of its two processes).

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


ONE_CORE = "wrapgen, one core"
FRESH = "wrapgen, up to date"


def timed(command: list[str], one_core: bool = False) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak RSS (KiB) of one child process."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    first = min(os.sched_getaffinity(0))
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        preexec_fn=(lambda: os.sched_setaffinity(0, {first})) if one_core else None,
    )
    _, status, usage = os.wait4(process.pid, 0)
    assert status == 0, command
    cpu = usage.ru_utime + usage.ru_stime
    return time.perf_counter() - start, cpu, usage.ru_maxrss


def main(runs: int, datamodel_codegen: str | None) -> None:
    folder = Path(tempfile.mkdtemp())
    out = folder / "model.py"
    wrapgen = [sys.executable, "-m", "codegen", str(SPEC), "-o", str(out)]
    commands = {
        "wrapgen": wrapgen,
        ONE_CORE: wrapgen,
        FRESH: wrapgen,
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
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    peaks: dict[str, list[int]] = {name: [] for name in commands}
    for command in commands.values():
        timed(command)  # writes the bytecode caches; not counted
    for _ in range(runs):
        for name, command in commands.items():
            if name != FRESH:  # the run before it wrote OUT, newer than the spec
                out.unlink(missing_ok=True)
            seconds, cpu, peak = timed(command, one_core=name == ONE_CORE)
            times[name].append(seconds)
            cpus[name].append(cpu)
            peaks[name].append(peak)
    median = {name: statistics.median(values) for name, values in times.items()}
    cpu = {name: statistics.median(values) for name, values in cpus.items()}
    floor, floor_cpu = median["imports"], cpu["imports"]
    print(
        f"import jinja2, libcst, yaml, typer: median {floor * 1000:.0f} ms wall, "
        f"{floor_cpu * 1000:.0f} ms CPU"
    )
    for name in ("wrapgen", ONE_CORE, FRESH):
        print(
            f"{name} {SPEC.name} -o OUT: median {median[name] * 1000:.0f} ms wall "
            f"({median[name] / floor:.2f}x), {cpu[name] * 1000:.0f} ms CPU "
            f"({cpu[name] / floor_cpu:.2f}x), peak RSS {max(peaks[name]) / 1024:.1f} MiB "
            f"over {runs} runs"
        )
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
