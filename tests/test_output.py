"""What wrapgen prints off a terminal: one problem, one line, and no TensorFlow start-up noise.

CI logs and pre-commit capture stderr through a pipe; a message there must
stay on one line (greppable) whatever the length of its path, keep the
user's own words, and not drown in TensorFlow's C++ logging.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT
from rich.table import Table

from codegen.console import escape, message_console, say
from codegen.runner import failure_summary
from codegen.tflog import quiet_tensorflow

BUILDER = '''\
"""A Keras model whose forward computation checks its input."""

import tensorflow as tf


class TooBright(tf.keras.layers.Layer):
    def call(self, x):
        tf.debugging.assert_less_equal(x, 1.0, message="pixels too bright")
        return x


def build():
    inputs = tf.keras.Input(shape=(4,), dtype=tf.float32, name="x")
    outputs = tf.keras.layers.Dense(3, activation="softmax")(TooBright()(inputs))
    return tf.keras.Model(inputs=inputs, outputs=outputs)
'''

SPEC = """\
wrapgen: 1
model:
  name: TooBright
  description: Fails on synthetic data, whose features go above 1.
inputs:
  x: {dtype: float32, shape: [null, 4]}
  y: {dtype: int32, shape: [null, 1]}
label: y
forward:
  keras: too_bright_builders:build
loss: sparse_categorical_crossentropy
metrics:
  loss: loss
  num_examples: num_examples
training:
  optimizer: {sgd: {learning_rate: 0.1}}
"""

NOISE = ("cuDNN", "TF-TRT", "grappler", "Failed to detect the fetch node")


def wrapgen(*args: str) -> subprocess.CompletedProcess:
    """`wrapgen ARGS` with stderr piped, as CI runs it, and no TF_CPP_MIN_LOG_LEVEL of ours."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, "-m", "codegen", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def one_synthetic_round(workers: int) -> tuple[str, ...]:
    """The options of `wrapgen run` for one quick round on synthetic data."""
    return ("--data", "synthetic", "--rounds", "1", "--workers", str(workers))


def path_of_length(base: Path, name: str, length: int) -> Path:
    """`base/.../name`, exactly `length` characters long, through folders of at most 50."""
    folder = base
    while (missing := length - len(str(folder / name))) > 0:
        size = min(50, missing - 1)  # a folder adds its name and a slash
        if missing - (size + 1) == 1:  # never leave room for a slash alone
            size -= 1
        assert size >= 1, (base, name, length)
        folder = folder / ("d" * size)
    path = folder / name
    assert len(str(path)) == length, (path, length)
    folder.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture()
def short_tmp():
    """A folder with a 13-character path (`/tmp/` and 8 random characters)."""
    folder = Path(tempfile.mkdtemp(prefix="", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_long_message_is_one_line_off_a_terminal():
    stream = io.StringIO()
    console = message_console(file=stream)
    path = "/tmp/" + "nested folder [bold]/" * 12 + "spec :smile: \\"
    message = f"{path}: training failed: RuntimeError: " + "pixels too bright " * 10
    say(console, message)
    console.print(f"[bold]{escape(message)}[/bold]")
    assert stream.getvalue() == f"{message}\n{message}\n"


def test_a_table_keeps_its_headers_whole_off_a_terminal():
    stream = io.StringIO()
    console = message_console(file=stream)
    headers = [f"train sparse_categorical_accuracy_{n}" for n in range(8)]
    table = Table(title="AVeryLongModelNameIndeed: metrics per round")
    for header in headers:
        table.add_column(header)
    table.add_row(*("0.5" for _ in headers))
    console.print(table)
    text = stream.getvalue()
    assert "AVeryLongModelNameIndeed: metrics per round\n" in text
    assert all(header in text for header in headers)


def test_a_usage_error_is_one_line_off_a_terminal():
    option = "--" + "-".join(["an-option-that-does-not-exist"] * 4)
    result = wrapgen("run", option, "spec.yaml")
    assert result.returncode == 2
    assert [line for line in result.stderr.splitlines() if option in line] == [
        f"Error: No such option '{option}'."
    ], result.stderr


def test_quiet_tensorflow_keeps_the_users_level(monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    quiet_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    quiet_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"


def test_the_failure_summary_finds_an_assertion_message_further_down():
    worker = RuntimeError(
        "Failed to run computation\n\t [[{{node Assert}}]] assertion failed: "
        "[pixels too bright] [Condition x <= y did not hold element-wise:] [1.5]"
    )
    assert failure_summary(worker) == (
        "RuntimeError: Failed to run computation (assertion failed: pixels too bright)"
    )
    try:
        try:
            raise worker
        except RuntimeError as error:
            raise ValueError("the round failed") from error
    except ValueError as error:
        chained = error
    assert failure_summary(chained) == (
        "ValueError: the round failed (assertion failed: pixels too bright)"
    )


@pytest.mark.tff
@pytest.mark.usefixtures("no_new_workers")
@pytest.mark.parametrize(
    ("kind", "length", "workers"),
    [("spec", 20, 1), ("module", 64, 1), ("spec", 128, 2), ("module", 200, 1)],
)
def test_a_failed_training_is_one_line_with_the_path_and_the_users_message(
    tmp_path, short_tmp, kind, length, workers
):
    base = tmp_path if len(str(tmp_path)) + 10 < length else short_tmp
    target = path_of_length(base, "b.yaml" if kind == "spec" else "m.py", length)
    spec = target.parent / "b.yaml"
    spec.write_text(SPEC, "utf-8")
    (target.parent / "too_bright_builders.py").write_text(BUILDER, "utf-8")
    if kind == "module":
        generated = wrapgen(str(spec), "-o", str(target))
        assert generated.returncode == 0, generated.stderr
    result = wrapgen("run", str(target), *one_synthetic_round(workers))
    assert result.returncode == 1, result.stderr[-3000:]
    failed = [line for line in result.stderr.splitlines() if "training failed" in line]
    assert len(failed) == 1, result.stderr[-3000:]
    assert failed[0].startswith(f"{target}: training failed: "), failed
    assert "pixels too bright" in failed[0], failed
    assert "Traceback" not in result.stderr


@pytest.mark.tff
@pytest.mark.usefixtures("no_new_workers")
@pytest.mark.parametrize("workers", [1, 2])
def test_a_run_prints_no_tensorflow_start_up_or_worker_noise(workers):
    spec = str(EXAMPLES / "digits_logistic.yaml")
    result = wrapgen("run", spec, *one_synthetic_round(workers))
    assert result.returncode == 0, result.stderr[-3000:]
    noisy = [
        line for line in result.stderr.splitlines() if any(n in line for n in NOISE)
    ]
    assert noisy == [], noisy[:5]
    assert "round 1/1: train loss" in result.stderr
