"""`wrapgen init --from-keras ... --layers`: a Keras model as a checked layer spec.

The spec it writes generates, and the Keras model's weights load into the
generated model one to one (model.weights[i] -> the i-th variable) and give
the Keras model's predictions. What the catalogue cannot express is refused,
naming the layer.
"""

from __future__ import annotations

import os
import sys
import textwrap

import numpy as np
import pytest
from typer.testing import CliRunner

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
tf = pytest.importorskip("tensorflow")

from codegen import generate  # noqa: E402
from codegen.cli import app  # noqa: E402
from codegen.train import import_module_file  # noqa: E402

pytestmark = pytest.mark.tff

BUILDERS = """\
    import tensorflow as tf
    from tensorflow_federated.python.simulation.baselines.emnist import emnist_models


    def cnn():
        return emnist_models.create_original_fedavg_cnn_model(only_digits=False)


    def cnn_dropout():
        return emnist_models.create_conv_dropout_model(only_digits=False)


    def two_nn():
        return emnist_models.create_two_hidden_layer_model(only_digits=False)


    def autoencoder():
        return emnist_models.create_autoencoder_model()


    def block():
        inputs = tf.keras.Input((6, 6, 4), name="pixels")
        x = tf.keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
        r = tf.keras.layers.Activation("relu")(x)
        r = tf.keras.layers.Conv2D(
            16, 3, padding="same", kernel_regularizer=tf.keras.regularizers.l2(1e-4)
        )(r)
        s = tf.keras.layers.Conv2D(16, 1, use_bias=False)(x)
        x = tf.keras.layers.Add()([s, r])
        x = tf.keras.layers.Flatten()(x)
        outputs = tf.keras.layers.Dense(3)(x)
        return tf.keras.Model(inputs, outputs)


    def shakespeare():
        from tensorflow_federated.python.simulation.baselines.shakespeare import (
            char_prediction_models,
        )

        return char_prediction_models.create_recurrent_model(90, sequence_length=80)


    def resnet18():
        from tensorflow_federated.python.simulation.models import resnet_models

        return resnet_models.create_resnet18(input_shape=(24, 24, 3), num_classes=100)


    def batch_norm():
        return tf.keras.Sequential(
            [tf.keras.Input((4,)), tf.keras.layers.BatchNormalization()]
        )


    def conv1d():
        return tf.keras.Sequential(
            [tf.keras.Input((8, 2)), tf.keras.layers.Conv1D(4, 3), tf.keras.layers.Flatten()]
        )
"""


@pytest.fixture()
def project(tmp_path, monkeypatch):
    (tmp_path / "layer_builders.py").write_text(textwrap.dedent(BUILDERS))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("layer_builders", None)


def _init(name: str, function: str):
    return CliRunner().invoke(
        app, ["init", name, "--from-keras", f"layer_builders:{function}", "--layers"]
    )


@pytest.mark.parametrize(
    "function", ["cnn", "cnn_dropout", "two_nn", "autoencoder", "block"]
)
def test_layer_spec_loads_the_keras_weights_and_predicts_the_same(project, function):
    result = _init(f"m_{function}", function)
    assert result.exit_code == 0, result.output
    text = (project / f"m_{function}.yaml").read_text()
    assert "forward:\n  layers:" in text
    generated = generate(project / f"m_{function}.yaml")
    (project / f"m_{function}.py").write_text(generated.text)
    module = import_module_file(project / f"m_{function}.py", f"init_layers_{function}")
    import layer_builders

    keras_model = getattr(layer_builders, function)()
    rng = np.random.default_rng(0)
    for weight in keras_model.weights:
        weight.assign(rng.normal(scale=0.1, size=weight.shape).astype(np.float32))
    model = module.model_fn()
    ours = model.trainable_variables + model.non_trainable_variables
    assert [tuple(v.shape) for v in ours] == [
        tuple(w.shape) for w in keras_model.weights
    ]
    for variable, weight in zip(ours, keras_model.weights):
        variable.assign(weight)
    spec = module.INPUT_SPEC["x"]
    shape = (2, *spec.shape[1:])
    if spec.dtype.is_integer:  # token ids, with padding (0) at the end of a row
        x = rng.integers(1, 90, size=shape)
        x[0, shape[1] // 2 :] = 0
        x = x.astype(spec.dtype.as_numpy_dtype)
    else:
        x = rng.normal(size=shape).astype(spec.dtype.as_numpy_dtype)
    np.testing.assert_allclose(
        model.predict_on_batch(x, training=False),
        keras_model(x, training=False),
        rtol=1e-5,
        atol=1e-5,
    )
    if function == "block":
        assert "residual:" in text and "shortcut:" in text and "l2: 0.0001" in text
    if function == "resnet18":
        assert text.count("- residual:") == 8 and text.count("shortcut:") == 3
        assert text.count("l2: 0.0001") == 22


def test_a_layer_the_catalogue_lacks_is_refused_by_name(project):
    result = _init("m_conv1d", "conv1d")
    assert result.exit_code == 2
    assert "'conv1d' (Conv1D): the catalogue has no layer for it" in result.output
    assert "forward: keras" in result.output
    assert not (project / "m_conv1d.yaml").exists()


def test_batch_normalization_is_refused_with_the_reason(project):
    result = _init("m_batch_norm", "batch_norm")
    assert result.exit_code == 2
    assert "(BatchNormalization): batch normalization is refused" in result.output


def test_layers_needs_from_keras(project):
    result = CliRunner().invoke(app, ["init", "m", "--layers"])
    assert result.exit_code == 2
    assert "--layers: expected --from-keras" in result.output
