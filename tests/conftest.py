"""Shared fixtures: the bundled examples and TFF worker clean-up."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

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
        assert child_worker_pids(__import__("os").getpid()) == []
