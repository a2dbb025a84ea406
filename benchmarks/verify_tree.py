"""Cold `wrapgen verify` of a large tree of real TFF code: wall time, lines per second, peak memory.

The default tree is the installed TFF's `learning` and `program` packages
(about 20,000 lines of hand-written TFF code, models and federated
computations). Each run is a new process, as in a pre-commit hook; the
bytecode of wrapgen and its libraries is compiled first (as `pip install`
does), so the runs measure verification, not compiling wrapgen. Prints the
median wall time, lines per second, the findings count and the largest peak
resident memory (`ru_maxrss` of the child).

Usage: .venv/bin/python benchmarks/verify_tree.py [RUNS] [PATH ...]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

# Found without importing TFF (which would import TensorFlow).
TFF = Path(find_spec("tensorflow_federated").origin).resolve().parent / "python"
DEFAULT_TREES = [TFF / "learning", TFF / "program"]


def count_lines(paths: list[Path]) -> tuple[int, int]:
    files = [f for p in paths for f in ([p] if p.is_file() else p.rglob("*.py"))]
    return len(files), sum(f.read_bytes().count(b"\n") for f in files)


def one_run(paths: list[Path]) -> tuple[float, int, int]:
    """Wall seconds, peak RSS (KiB) and number of finding lines of one cold process."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "codegen", "verify", *map(str, paths)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    assert os.waitstatus_to_exitcode(status) in (0, 1), status
    return seconds, usage.ru_maxrss, output.count(b"\n")


def main(runs: int, paths: list[Path]) -> None:
    files, lines = count_lines(paths)
    one_run(paths)  # writes the bytecode of wrapgen's modules; not counted
    results = [one_run(paths) for _ in range(runs)]
    median = statistics.median(seconds for seconds, _, _ in results)
    peak = max(rss for _, rss, _ in results)
    print(
        f"cold `wrapgen verify` of {files} files, {lines:,} lines: median {median:.2f} s over "
        f"{runs} runs (min {min(r[0] for r in results):.2f} s), {lines / median:,.0f} lines/s, "
        f"peak RSS {peak / 1024:.0f} MiB, {results[0][2]} finding lines"
    )


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    trees = [Path(arg) for arg in sys.argv[2:]] or DEFAULT_TREES
    main(count, trees)
