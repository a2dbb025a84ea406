"""Cold-start generation time and peak memory against importing the generation dependencies.

Runs `wrapgen SPEC -o OUT` and `python -c "import jinja2, libcst, yaml, typer"` as
separate processes, interleaved, and prints the medians, their ratio and the peak
resident memory of wrapgen. Usage: .venv/bin/python benchmarks/generation.py [RUNS]
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


def timed(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    assert status == 0, command
    return time.perf_counter() - start, usage.ru_maxrss


def main(runs: int) -> None:
    out = Path(tempfile.mkdtemp()) / "model.py"
    wrapgen = [sys.executable, "-m", "codegen", str(SPEC), "-o", str(out)]
    baseline = [sys.executable, "-c", "import jinja2, libcst, yaml, typer"]
    ours, theirs, peaks = [], [], []
    for _ in range(runs):
        seconds, peak = timed(wrapgen)
        ours.append(seconds)
        peaks.append(peak)
        theirs.append(timed(baseline)[0])
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(
        f"wrapgen SPEC -o OUT: median {statistics.median(ours) * 1000:.0f} ms over {runs} runs"
    )
    print(
        f"import jinja2, libcst, yaml, typer: median {statistics.median(theirs) * 1000:.0f} ms"
    )
    print(f"ratio {ratio:.2f}x; wrapgen peak RSS {max(peaks) / 1024:.1f} MiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
