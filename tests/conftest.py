"""Shared fixtures: the bundled examples and TFF worker clean-up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", parent=settings.get_profile("ci"), max_examples=50)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def sigint_default() -> None:
    """`preexec_fn` for a child a test interrupts: Ctrl-C acts even when the test
    run itself was started with SIGINT ignored (a background job), which a child
    would otherwise inherit, as Unix programs rightly do."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _processes() -> list[tuple[int, list[str]]]:
    """(pid, the fields of /proc/PID/stat after the name) of every process."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found.append((int(entry.name), stat))
    return found


def process_group(pgid: int) -> list[int]:
    """The live processes of process group `pgid` (zombies left out)."""
    return [
        pid for pid, stat in _processes() if int(stat[2]) == pgid and stat[0] != "Z"
    ]


def child_processes(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    return [child for child, stat in _processes() if int(stat[1]) == pid]


ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "generated_examples"
EXAMPLE_NAMES = sorted(path.stem for path in EXAMPLES.glob("*.yaml"))


@pytest.fixture(scope="session", autouse=True)
def _stop_tff_workers_at_exit():
    """TFF starts a worker_binary that outlives Python unless stopped; stop it after the run."""
    yield
    if "tensorflow_federated" in sys.modules:
        from codegen.workers import child_worker_pids, stop_tff_workers

        stop_tff_workers()
        assert child_worker_pids(os.getpid()) == []


def wrapgen_run(*args: str, cwd=ROOT, env=None) -> subprocess.CompletedProcess:
    """`wrapgen run ARGS` as a user runs it: without the TF_CPP_MIN_LOG_LEVEL that test
    modules of this suite set for their own TensorFlow (wrapgen would keep it)."""
    if env is None:
        env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, "-m", "codegen", "run", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )


def summary(result: subprocess.CompletedProcess) -> dict:
    """The `--json` report of a successful `wrapgen run` (its last stdout line)."""
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture()
def no_new_workers():
    """Fails the test if a TFF worker started during it is still running afterwards."""
    from codegen.workers import all_worker_pids

    before = set(all_worker_pids())
    yield
    deadline = time.monotonic() + 10
    while set(all_worker_pids()) - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert set(all_worker_pids()) - before == set()
