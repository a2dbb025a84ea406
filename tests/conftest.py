"""Shared fixtures: the bundled examples and TFF worker clean-up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
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


def _stat(folder: Path) -> list[str] | None:
    """The fields of `folder/stat` (a /proc/PID folder) after the process name, if any."""
    try:
        return (folder / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _processes() -> list[tuple[int, list[str]]]:
    """(pid, its `_stat` fields) of every process."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(entry)) is not None:
            found.append((int(entry.name), stat))
    return found


def process_alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    stat = _stat(Path("/proc") / str(pid))
    return stat is not None and stat[0] != "Z"


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


def interrupted(
    command: list[str], cwd: Path, after: float, gaps: Sequence[float] = (0.0,)
) -> tuple[int, int, str]:
    """Run `command` in a process group of its own and press Ctrl-C (SIGINT to the
    group, as a terminal does) `after` seconds in, then again after each gap but the
    last; (pid, exit status, stderr). Fails the test when it is still running 30 s on."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=sigint_default,
    )
    time.sleep(after)
    for gap in gaps:
        try:
            os.killpg(process.pid, signal.SIGINT)
        except ProcessLookupError:
            break
        time.sleep(gap)
    try:
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail("wrapgen hung after Ctrl-C")
    return process.pid, process.returncode, stderr


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
