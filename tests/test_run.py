"""`wrapgen run` end to end, as users run it: digits accuracy, plots, JSON, workers, clean-up."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT, sigint_default, summary, wrapgen_run

pytestmark = pytest.mark.tff

DIGITS = str(EXAMPLES / "digits_logistic.yaml")


def test_digits_run_reaches_85_percent_and_writes_plot_and_json(
    tmp_path, no_new_workers
):
    plot = tmp_path / "curve.png"
    result = wrapgen_run(DIGITS, "--data", "digits", "--json", "--plot", str(plot))
    report = summary(result)
    assert report["eval"]["accuracy"] >= 0.85, report["eval"]
    assert report["rounds"] == 20 and len(report["history"]["train"]) == 20
    assert set(report["timings"]) >= {
        "build_s",
        "median_round_s",
        "wall_s",
        "generate_s",
    }
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "round 20/20: train loss" in result.stderr
    assert "metrics per round" in result.stderr


def test_two_workers_give_the_metrics_of_one(no_new_workers):
    args = (DIGITS, "--rounds", "2", "--data-clients", "6", "--clients", "6", "--json")
    one = summary(wrapgen_run(*args, "--workers", "1"))
    two = summary(wrapgen_run(*args, "--workers", "2"))
    for split in ("train", "eval"):
        for first, second in zip(one["history"][split], two["history"][split]):
            assert first.keys() == second.keys()
            for name in first:
                assert abs(first[name] - second[name]) <= 1e-5, (
                    split,
                    name,
                    first,
                    second,
                )
    assert two["workers"] == 2


def test_run_on_a_generated_module_and_synthetic_data(no_new_workers):
    report = summary(
        wrapgen_run(
            str(EXAMPLES / "linear_regression.py"),
            "--data",
            "synthetic",
            "--rounds",
            "3",
            "--data-clients",
            "4",
            "--clients",
            "2",
            "--examples",
            "64",
            "--json",
        )
    )
    assert report["spec"] == "LinearRegression"
    assert report["train"]["num_examples"] == 128


def test_spec_that_cannot_take_digits_is_a_clear_error(tmp_path, no_new_workers):
    # The default --data is digits: the error names what else to use, before TensorFlow
    # loads (a TensorFlow that fails on import shows it is never imported).
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text(
        "raise ImportError('loaded')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = wrapgen_run(str(EXAMPLES / "linear_regression.yaml"), env=env)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "--data digits: the spec LinearRegression cannot take the digits"
    )
    assert result.stderr.endswith(
        ". Train it on your own clients (--data PATH.npz, PATH.csv or "
        "MODULE:FUNCTION) or on data shaped by the spec (--data synthetic)\n"
    )
    assert len(result.stderr.splitlines()) == 1


def test_error_during_training_stops_the_workers(tmp_path, no_new_workers):
    shutil.copy(EXAMPLES / "digits_logistic.yaml", tmp_path)
    module = (EXAMPLES / "digits_logistic.py").read_text("utf-8")
    anchor = "        _check_batch(batch_input)\n"
    failing = (
        anchor
        + '        tf.debugging.assert_less(batch_input["x"], 0.5, message="pixels too bright")\n'
    )
    (tmp_path / "digits_logistic.py").write_text(
        module.replace(anchor, failing), "utf-8"
    )
    result = wrapgen_run(str(tmp_path / "digits_logistic.py"), "--rounds", "3")
    assert result.returncode == 1, result.stderr[-3000:]
    failed = [line for line in result.stderr.splitlines() if "training failed" in line]
    assert len(failed) == 1, result.stderr[-3000:]
    assert failed[0].startswith(f"{tmp_path / 'digits_logistic.py'}: training failed: ")
    assert "pixels too bright" in failed[0]
    assert "Traceback" not in result.stderr


def test_ctrl_c_stops_the_workers(no_new_workers):
    process = subprocess.Popen(
        [sys.executable, "-m", "codegen", "run", DIGITS, "--rounds", "100000"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_default,
    )
    try:
        lines = []
        for line in process.stderr:
            lines.append(line)
            if line.startswith("round 2/"):
                break
        assert any(line.startswith("round 2/") for line in lines), "".join(lines)[
            -3000:
        ]
        process.send_signal(signal.SIGINT)
        rest = process.communicate(timeout=120)[1]
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, rest[-3000:]
    assert "interrupted: stopping the TFF workers" in rest
    assert "Traceback" not in rest
    assert os.getpid() > 0


@pytest.fixture()
def loopback_workers():
    """Two TFF C++ worker servers on loopback ports, stopped after the test."""
    import importlib.util

    import portpicker

    package = Path(importlib.util.find_spec("tensorflow_federated").origin).parent
    binary = package / "data" / "worker_binary"
    ports = [portpicker.pick_unused_port() for _ in range(2)]
    servers = [
        subprocess.Popen(
            [str(binary), f"--port={port}", "--max_concurrent_computation_calls=-1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=sigint_default,
        )
        for port in ports
    ]
    try:
        yield [f"localhost:{port}" for port in ports]
    finally:
        for server in servers:
            server.send_signal(signal.SIGINT)
        for server in servers:
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def test_remote_workers_give_the_metrics_of_one_local_worker(loopback_workers):
    args = (DIGITS, "--rounds", "2", "--data-clients", "6", "--clients", "6", "--json")
    local = summary(wrapgen_run(*args))
    addresses = [
        flag for address in loopback_workers for flag in ("--worker-address", address)
    ]
    remote = summary(wrapgen_run(*args, *addresses))
    assert remote["worker_addresses"] == loopback_workers
    for split in ("train", "eval"):
        for first, second in zip(local["history"][split], remote["history"][split]):
            for name in first:
                assert abs(first[name] - second[name]) <= 1e-5, (
                    split,
                    name,
                    first,
                    second,
                )


def test_unreachable_worker_address_is_a_clear_error():
    import portpicker

    port = portpicker.pick_unused_port()
    result = wrapgen_run(
        DIGITS, "--rounds", "1", "--worker-address", f"localhost:{port}"
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"--worker-address localhost:{port}: no TFF worker answered" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,metrics",
    [
        ("shakespeare_char_rnn", ("num_tokens", "accuracy")),
        ("stackoverflow_tag_lr", ("precision", "recall_at_5")),
    ],
)
def test_baselines_train_on_synthetic_data_of_their_shapes(
    name, metrics, no_new_workers
):
    """A sequence model (ids under an embedding, a label per position) and a
    multi-label model train and report their tasks' metrics."""
    report = summary(
        wrapgen_run(
            str(EXAMPLES / "baselines" / f"{name}.yaml"),
            "--data",
            "synthetic",
            "--rounds",
            "1",
            "--data-clients",
            "3",
            "--clients",
            "2",
            "--examples",
            "8",
            "--json",
        )
    )
    assert report["train"]["num_examples"] == 16
    for metric in metrics:
        assert metric in report["train"] and metric in report["eval"]
    if name == "shakespeare_char_rnn":
        assert 0 < report["train"]["num_tokens"] <= 16 * 80  # id 0 is padding
