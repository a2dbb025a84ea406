"""`wrapgen init` and the spec checks behind what it writes (issue 10): spec names that make
importable modules, tasks guessed from Keras models, labels and losses that fit."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from codegen import generate
from codegen.errors import SpecError

WRAPGEN = [sys.executable, "-m", "codegen"]


def wrapgen(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*WRAPGEN, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


# -- spec names -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("My-Model", "my_model"),
        ("models/Digits CNN.yaml", "models/digits_cnn"),
        ("import", "import_model"),
        ("random", "random_model"),
        ("tensorflow", "tensorflow_model"),
    ],
)
def test_init_refuses_a_name_whose_module_cannot_be_imported(
    tmp_path, name, suggestion
):
    result = wrapgen("init", name, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"use NAME {suggestion}" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.rglob("*")) == []


def test_init_refuses_the_name_before_importing_a_keras_builder(tmp_path):
    result = wrapgen(
        "init", "My-Model", "--from-keras", "no_such_module:build", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "use NAME my_model" in result.stderr
    assert "cannot import" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_init_keeps_names_that_are_importable(tmp_path):
    for name in ("my_model", "MyModel", "models/cnn_v2.yaml"):
        result = wrapgen("init", name, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert wrapgen("MyModel.yaml", cwd=tmp_path).returncode == 0
    assert (tmp_path / "MyModel.py").exists()


# -- labels for binary_crossentropy -----------------------------------------------------

BINARY_LAYERS = """\
wrapgen: 1
model: {name: Binary, description: One sigmoid output.}
inputs:
  x: {dtype: float32, shape: [null, 4]}
  y: {dtype: LABEL_DTYPE, shape: [null, 1]}
label: y
variables:
  kernel: {shape: [4, 1], initializer: zeros}
forward:
  layers: [{dense: {kernel: kernel}}, sigmoid]
loss: binary_crossentropy
metrics: {loss: loss, accuracy: binary_accuracy, num_examples: num_examples}
training: {optimizer: {sgd: {learning_rate: 0.1}}}
"""

BINARY_KERAS = """\
wrapgen: 1
model: {name: MultiLabel, description: Several sigmoid outputs.}
inputs:
  x: {dtype: float32, shape: [null, 4]}
  y: {dtype: LABEL_DTYPE, shape: [null, 5]}
label: y
forward: {keras: my_builders:build}
loss: {binary_crossentropy: {from_logits: true}}
metrics: {loss: loss, accuracy: binary_accuracy, num_examples: num_examples}
training: {optimizer: {sgd: {learning_rate: 0.1}}}
"""


@pytest.mark.parametrize("dtype", ["float32", "int32", "int64", "bool"])
@pytest.mark.parametrize("text", [BINARY_LAYERS, BINARY_KERAS], ids=["layers", "keras"])
def test_binary_crossentropy_takes_integer_and_bool_labels(tmp_path, text, dtype):
    spec = tmp_path / "binary.yaml"
    spec.write_text(text.replace("LABEL_DTYPE", dtype), "utf-8")
    assert f"tf.{dtype}" in generate(spec).text


def test_binary_crossentropy_still_refuses_other_labels(tmp_path):
    spec = tmp_path / "binary.yaml"
    spec.write_text(
        BINARY_LAYERS.replace("LABEL_DTYPE", "float32").replace(
            "[null, 1]}", "[null, 2]}"
        ),
        "utf-8",
    )
    with pytest.raises(SpecError, match=r"label shape \[null, 2\]"):
        generate(spec)


TAGGER = """\
wrapgen: 1
model: {name: Tagger, description: Tags every token of a sentence.}
inputs:
  tokens: {dtype: int32, shape: [null, 20]}
  tags: {dtype: int32, shape: [null, 20]}
label: tags
forward: {keras: my_models:build_tagger}
loss: sparse_categorical_crossentropy
metrics:
  loss: loss
  accuracy: {sparse_categorical_accuracy: {masked_ids: [0]}}
  num_examples: num_examples
training: {optimizer: {sgd: {learning_rate: 0.1}}}
"""


def test_per_position_class_labels_fit_a_keras_loss_and_accuracy(tmp_path):
    spec = tmp_path / "tagger.yaml"
    spec.write_text(TAGGER, "utf-8")
    text = generate(spec).text
    assert 'shape=[None, 20], dtype=tf.int32, name="tags"' in text
    assert "self._metric_accuracy_total.assign_add(" in text


@pytest.mark.tff
@pytest.mark.parametrize("dtype", ["int32", "int64", "bool"])
def test_binary_modules_train_on_integer_and_bool_labels(tmp_path, dtype):
    tf = pytest.importorskip("tensorflow")
    pytest.importorskip("tensorflow_federated")
    from codegen.train import import_module_file

    spec = tmp_path / "binary.yaml"
    spec.write_text(BINARY_LAYERS.replace("LABEL_DTYPE", dtype), "utf-8")
    path = tmp_path / "binary.py"
    path.write_text(generate(spec).text, "utf-8")
    module = import_module_file(path, f"issue10_binary_{dtype}")
    model = module.model_fn()
    label = tf.constant([[1], [0], [1], [1]], tf.int32)
    batch = {"x": tf.ones([4, 4]), "y": tf.cast(label, dtype)}
    before = float(model.forward_pass(batch, training=False).loss)
    assert before == pytest.approx(math.log(2.0), rel=1e-5)  # zero kernel: p = 0.5
    for _ in range(5):
        model.train_on_batch(batch)
    assert float(model.forward_pass(batch, training=False).loss) < before
    accuracy = model.report_local_unfinalized_metrics()["accuracy"]
    assert all(math.isfinite(float(value)) for value in accuracy)


# -- wrapgen init --from-keras (TensorFlow) --------------------------------------------

BUILDERS = '''\
"""Keras builders for tests/test_init.py."""

import tensorflow as tf

L = tf.keras.layers


def softmax_cnn():
    return tf.keras.Sequential(
        [
            tf.keras.Input((8, 8, 1), name="pixels"),
            L.Conv2D(4, 3, activation="relu"),
            L.Flatten(),
            L.Dense(10, activation=tf.nn.softmax),
        ]
    )


def softmax_layer():
    return tf.keras.Sequential(
        [tf.keras.Input((6,), name="features"), L.Dense(4), L.Softmax()]
    )


def activation_then_dropout():
    inputs = tf.keras.Input((6,), name="features")
    scores = L.Dense(4)(inputs)
    probabilities = L.Activation(tf.keras.activations.softmax)(scores)
    return tf.keras.Model(inputs, L.Dropout(0.2)(probabilities))


def multi_label():
    return tf.keras.Sequential(
        [tf.keras.Input((6,), name="features"), L.Dense(5, activation="sigmoid")]
    )


def logits():
    return tf.keras.Sequential([tf.keras.Input((6,), name="features"), L.Dense(10)])


def tagger():
    tokens = tf.keras.Input((12,), dtype=tf.int32, name="tokens")
    embedded = L.Embedding(50, 8)(tokens)
    return tf.keras.Model(tokens, L.Dense(7, activation="softmax")(embedded))


def open_length_tagger():
    tokens = tf.keras.Input((None,), dtype=tf.int32, name="tokens")
    embedded = L.Embedding(50, 8)(tokens)
    return tf.keras.Model(tokens, L.Dense(7, activation=tf.nn.softmax)(embedded))
'''

ACCURACY = {"accuracy": "sparse_categorical_accuracy"}
COUNTS = {"loss": "loss", "num_examples": "num_examples"}

PER_POSITION = {"num_tokens": "num_tokens", "accuracy": "sparse_categorical_accuracy"}

EXPECTED = {
    "softmax_cnn": (
        {"pixels": "float32 [None, 8, 8, 1]", "y": "int32 [None, 1]"},
        "sparse_categorical_crossentropy",
        ACCURACY,
    ),
    "softmax_layer": (
        {"features": "float32 [None, 6]", "y": "int32 [None, 1]"},
        "sparse_categorical_crossentropy",
        ACCURACY,
    ),
    "activation_then_dropout": (
        {"features": "float32 [None, 6]", "y": "int32 [None, 1]"},
        "sparse_categorical_crossentropy",
        ACCURACY,
    ),
    "multi_label": (
        {"features": "float32 [None, 6]", "y": "float32 [None, 5]"},
        "binary_crossentropy",
        {"accuracy": "binary_accuracy"},
    ),
    "logits": (
        {"features": "float32 [None, 6]", "y": "int32 [None, 1]"},
        {"sparse_categorical_crossentropy": {"from_logits": True}},
        ACCURACY,
    ),
    "tagger": (
        {"tokens": "int32 [None, 12]", "y": "int32 [None, 12]"},
        "sparse_categorical_crossentropy",
        PER_POSITION,
    ),
    "open_length_tagger": (
        {"tokens": "int32 [None, 1]", "y": "int32 [None, 1]"},
        "sparse_categorical_crossentropy",
        PER_POSITION,
    ),
}


@pytest.fixture(scope="module")
def builders(tmp_path_factory):
    """A folder holding `issue10_builders.py`, the Keras builders above."""
    folder = tmp_path_factory.mktemp("builders")
    (folder / "issue10_builders.py").write_text(BUILDERS, "utf-8")
    return folder


def init_from_keras(folder: Path, function: str, name: str = "") -> Path:
    """Run `wrapgen init NAME --from-keras issue10_builders:FUNCTION` in `folder`;
    NAME defaults to FUNCTION."""
    from typer.testing import CliRunner

    from codegen.cli import app

    previous = Path.cwd()
    os.chdir(folder)
    try:
        result = CliRunner().invoke(
            app,
            ["init", name or function, "--from-keras", f"issue10_builders:{function}"],
        )
    finally:
        os.chdir(previous)
    assert result.exit_code == 0, result.stdout + result.stderr
    return folder / f"{name or function}.yaml"


def forward_pass_loss(module) -> float:
    """The loss of the generated model on one all-zero batch of two examples."""
    import tensorflow as tf

    def zeros(spec):
        shape = [2 if dim is None else dim for dim in spec.shape]
        return tf.zeros(shape, spec.dtype)

    batch = tf.nest.map_structure(zeros, module.INPUT_SPEC)
    return float(module.model_fn().forward_pass(batch, training=False).loss)


@pytest.mark.tff
@pytest.mark.parametrize("function", list(EXPECTED))
def test_init_from_keras_guesses_the_task_and_the_spec_generates(builders, function):
    pytest.importorskip("tensorflow_federated")
    from codegen.train import import_module_file

    spec = init_from_keras(builders, function)
    data = yaml.safe_load(spec.read_text("utf-8"))
    inputs, loss, metrics = EXPECTED[function]
    assert {
        name: f"{item['dtype']} {item['shape']}"
        for name, item in data["inputs"].items()
    } == inputs
    assert data["label"] == "y"
    assert data["loss"] == loss
    assert data["metrics"] == {
        "loss": "loss",
        **metrics,
        "num_examples": "num_examples",
    }
    result = wrapgen(spec.name, "-o", f"{function}_model.py", cwd=builders)
    assert result.returncode == 0, result.stderr
    loss_value = forward_pass_loss(
        import_module_file(builders / f"{function}_model.py", f"issue10_{function}")
    )
    assert math.isfinite(loss_value)


@pytest.mark.tff
def test_init_from_keras_marks_open_dimensions_as_todo(builders):
    pytest.importorskip("tensorflow")
    spec = init_from_keras(builders, "open_length_tagger", "open_tagger_todo")
    text = spec.read_text("utf-8")
    tokens = next(line for line in text.splitlines() if line.startswith("  tokens:"))
    label = next(line for line in text.splitlines() if line.startswith("  y:"))
    assert "TODO" in tokens and "None" in tokens
    assert "TODO" in label and "per position" in label
    assert "set each to your data's size" in text
    assert wrapgen(spec.name, cwd=builders).returncode == 0


OUTPUT_ENDINGS = {
    "dense tf.nn.softmax": ("softmax", "Dense(3, activation=tf.nn.softmax)"),
    "dense 'softmax'": ("softmax", "Dense(3, activation='softmax')"),
    "Softmax layer": ("softmax", "Dense(3)", "Softmax()"),
    "Activation, Flatten": (
        "softmax",
        "Dense(3)",
        "Activation(tf.nn.softmax)",
        "Flatten()",
    ),
    "Lambda": ("softmax", "Dense(3)", "Lambda(tf.nn.softmax)"),
    "TimeDistributed": (
        "softmax",
        "Reshape((3, 2))",
        "TimeDistributed(Dense(4, 'softmax'))",
    ),
    "Softmax over axis 1": ("", "Reshape((3, 2))", "Softmax(axis=1)"),
    "dense tf.math.sigmoid": ("sigmoid", "Dense(3, activation=tf.math.sigmoid)"),
    "sigmoid, Dropout": ("sigmoid", "Dense(3, activation='sigmoid')", "Dropout(0.5)"),
    "no activation": ("linear", "Dense(3)"),
    "relu": ("relu", "Dense(3, activation=tf.nn.relu)"),
}


@pytest.mark.tff
@pytest.mark.parametrize("ending", list(OUTPUT_ENDINGS))
def test_output_activation_is_recognised_however_it_is_written(ending):
    tf = pytest.importorskip("tensorflow")
    from codegen.keras_spec import output_activation

    expected, *texts = OUTPUT_ENDINGS[ending]
    namespace = {"tf": tf, **vars(tf.keras.layers)}

    def layers():
        return [eval(text, namespace) for text in texts]  # noqa: S307

    flat = tf.keras.Sequential([tf.keras.Input((6,)), *layers()])
    nested = tf.keras.Sequential([tf.keras.Input((6,)), tf.keras.Sequential(layers())])
    assert output_activation(flat) == expected
    assert output_activation(nested) == expected
