"""Time and peak memory of `wrapgen SPEC -o OUT` for specs with many metrics.

Writes a spec with N metrics (every kind and aggregation, names of 9 to 12
characters) for N = 100 (the limit, `catalogue.MAX_METRICS`), 300, 1,000 and
3,000, then runs `python -m codegen SPEC -o OUT` RUNS times for each, one
child process at a time and with no module at OUT beforehand (an identical
module is not verified again), and reports the median wall time, the exit
code and the child's peak resident memory (`ru_maxrss` from `os.wait4`).
Goal: 3,000 metrics under 3 s and 300 MB.

Then, in this process and with the metric limit lifted, it times the stages
before verification (load + validate, plan, render; the best of RUNS, per
metric) for each N, to show how generation itself scales; the verifier
(`codegen/verify.py`, `codegen/passes`) is timed once where the module is
within its input limits.
Usage: .venv/bin/python benchmarks/many_metrics.py [RUNS]
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
COUNTS = (100, 300, 1000, 3000)
KINDS = (
    "loss",
    "sparse_categorical_accuracy",
    "num_batches",
    "{loss: {aggregation: max}}",
    "{num_examples: {aggregation: min}}",
    "{sparse_categorical_accuracy: {aggregation: min}}",
)
SPEC = """\
wrapgen: 1
model: {name: ManyMetrics, description: A softmax model with many metrics.}
inputs:
  x: {dtype: float32, shape: [null, 4]}
  y: {dtype: int32, shape: [null, 1]}
label: y
variables:
  kernel: {shape: [4, 3], initializer: {glorot_uniform: {seed: 1}}}
  bias: {shape: [3], initializer: zeros}
forward:
  layers:
    - dense: {kernel: kernel, bias: bias}
    - softmax
loss: sparse_categorical_crossentropy
training:
  optimizer: {adam: {learning_rate: 0.001}}
metrics:
  num_examples: num_examples
"""


def spec_text(count: int) -> str:
    """The spec with `count` metrics in all (num_examples and count - 1 others)."""
    lines = (f"  metric_{i}: {KINDS[i % len(KINDS)]}\n" for i in range(count - 1))
    return SPEC + "".join(lines)


def run_child(spec: Path, out: Path) -> tuple[float, int, float, str]:
    """Wall seconds, exit code, peak RSS in MiB and last stderr line of one `wrapgen` run."""
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "codegen", str(spec), "-o", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    stderr = child.stderr.read().decode() if child.stderr else ""
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    return elapsed, child.returncode, usage.ru_maxrss / 1024, last


def measure_processes(runs: int, folder: Path) -> None:
    for count in COUNTS:
        spec = folder / f"metrics_{count}.yaml"
        spec.write_text(spec_text(count), "utf-8")
        results = []
        for _ in range(runs):
            out = folder / f"out_{count}.py"
            out.unlink(
                missing_ok=True
            )  # an identical existing module is not verified again
            results.append(run_child(spec, out))
        times = [r[0] for r in results]
        peak = max(r[2] for r in results)
        code, message = results[-1][1], results[-1][3]
        outcome = (
            "written" if code == 0 else f"exit {code}: {message.split(': ', 1)[-1]}"
        )
        size = len(spec.read_bytes()) / 1024
        print(
            f"wrapgen SPEC -o OUT, {count} metrics ({size:.0f} KiB spec): median "
            f"{statistics.median(times):.2f} s over {runs} runs, peak RSS {peak:.0f} MiB; {outcome}"
        )


def measure_stages(folder: Path, runs: int) -> None:
    """Stages in this process, metric limit lifted: the best of `runs` runs, per metric.

    The verifier runs once, and only on modules within its input limits.
    """
    sys.path.insert(0, str(ROOT))  # this checkout's codegen, as the child processes use
    from codegen import catalogue
    from codegen.verify import verify_source

    if hasattr(catalogue, "MAX_METRICS"):
        catalogue.MAX_METRICS = max(COUNTS)
    for count in COUNTS:
        spec_path = folder / f"metrics_{count}.yaml"
        timings = [stage_times(spec_path) for _ in range(runs)]
        best = [min(run[i] for run in timings) * 1e6 / count for i in range(3)]
        text = timings[0][3]
        start = time.perf_counter()
        try:
            verify_source(text, "out.py", generated=True)
            verified = f"verify {time.perf_counter() - start:.2f} s"
        except Exception as exc:  # the verifier refuses modules over its size limits
            verified = f"verify refused it: {str(exc).split(': ', 1)[-1][:70]}"
        print(
            f"stages, {count} metrics, per metric: load+validate {best[0]:.0f} us, "
            f"plan {best[1]:.0f} us, render {best[2]:.0f} us "
            f"({len(text.encode()) / 1024:.0f} KiB, {text.count(chr(10))} lines); {verified}"
        )


def stage_times(spec_path: Path) -> tuple[float, float, float, str]:
    """Seconds to load and validate, plan and render the spec, and the module text."""
    from codegen.load import load_spec
    from codegen.plan import plan
    from codegen.render import render
    from codegen.spec import digest
    from codegen.validate import validate

    start = time.perf_counter()
    spec = validate(load_spec(spec_path))
    validated = time.perf_counter()
    planned = plan(spec, "spec.yaml", "out.py", digest(spec))
    done_plan = time.perf_counter()
    text = render(planned)
    rendered = time.perf_counter()
    return validated - start, done_plan - validated, rendered - done_plan, text


def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        measure_processes(runs, folder)
        measure_stages(folder, runs)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
