"""Time to verify every generated example (and the hand-written test model) in one process.

Parses and runs all passes on each file, warm (imports done, one untimed
run first), and prints the median of several full rounds, plus a cold
`wrapgen verify` process for comparison. Usage: .venv/bin/python benchmarks/verify.py [ROUNDS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from codegen.verify import verify_file  # noqa: E402

FILES = sorted((ROOT / "generated_examples").glob("*.py")) + [
    ROOT / "tests" / "handwritten" / "linear_regression.py"
]


def main(rounds: int) -> None:
    lines = sum(len(p.read_text("utf-8").splitlines()) for p in FILES)
    for path in FILES:
        assert verify_file(path) == [], path
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for path in FILES:
            verify_file(path)
        times.append(time.perf_counter() - start)
    print(
        f"verify {len(FILES)} files ({lines} lines) in one process: "
        f"median {statistics.median(times) * 1000:.0f} ms over {rounds} rounds "
        f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})"
    )
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "codegen", "verify", *map(str, FILES)], check=True
    )
    print(
        f"cold `wrapgen verify` process on the same files: {(time.perf_counter() - start) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
