"""group_norm, layer_norm, avg_pool2d and global_average_pooling compute what Keras' layers compute.

Each test generates a one-layer model, copies random non-trivial weights into
it and into the Keras layer, and compares outputs and the gradients (of the
input and of every weight) to 1e-5; one model of all four layers trains.
"""

from __future__ import annotations

import collections
import os
import textwrap
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
tf = pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_federated")

from codegen import generate  # noqa: E402
from codegen.train import import_module_file  # noqa: E402

pytestmark = pytest.mark.tff

TOLERANCE = 1e-5

SPEC = """\
    wrapgen: 1
    model: {{name: {name}, description: One layer compared with its Keras layer.}}
    inputs:
      x: {{dtype: {dtype}, shape: {shape}}}
      y: {{dtype: {dtype}, shape: {label}}}
    label: y
    variables: {variables}
    forward:
      layers: {layers}
    loss: mean_squared_error
    metrics:
      loss: loss
      num_examples: num_examples
    training:
      optimizer: {{sgd: {{learning_rate: 0.1}}}}
    """


def module_from_spec(tmp_path: Path, name: str, text: str):
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(textwrap.dedent(text))
    path = tmp_path / f"{name}.py"
    path.write_text(generate(spec).text)
    return import_module_file(path, f"norm_pool_{name}")


def one_layer_model(tmp_path, name, layer, shape, label, weights=(), dtype="float32"):
    """A generated model of one layer; `weights` names variables of shape [shape[-1]]."""
    width = shape[-1]
    variables = (
        "{"
        + ", ".join(
            f"{w}: {{shape: [{width}], dtype: {dtype}, initializer: ones}}"
            for w in weights
        )
        + "}"
        if weights
        else "{}"
    )
    text = SPEC.format(
        name=name,
        dtype=dtype,
        shape=_dims(shape),
        label=_dims(label),
        variables=variables,
        layers=f"[{layer}]",
    )
    return module_from_spec(tmp_path, name, text).model_fn()


def _dims(shape) -> str:
    return "[" + ", ".join("null" if d is None else str(d) for d in shape) + "]"


def random_input(shape, dtype=np.float32, seed=0):
    """A batch of 3 with a different mean and scale per position, as activations have."""
    rng = np.random.default_rng(seed)
    full = (3, *shape[1:])
    offset = rng.normal(0.0, 2.0, full[-1:])
    return (rng.normal(0.0, 1.0, full) * rng.uniform(0.5, 3.0) + offset).astype(dtype)


def outputs_and_gradients(call, x, variables):
    """Outputs and the gradients of a random projection of them: of x and of each variable."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = call(x)
        cotangent = tf.constant(
            np.random.default_rng(1).normal(size=y.shape).astype(x.dtype.as_numpy_dtype)
        )
        projected = tf.reduce_sum(y * cotangent)
    gradients = tape.gradient(projected, [x, *variables])
    return y.numpy(), [g.numpy() for g in gradients]


def assert_same_as_keras(model, keras_layer, x, weights=()):
    """Copy random weights into both; outputs and gradients agree to `TOLERANCE`."""
    keras_layer.build(x.shape)
    rng = np.random.default_rng(2)
    for ours, theirs in zip(model.trainable_variables, keras_layer.trainable_variables):
        value = rng.uniform(0.5, 2.0, ours.shape) * rng.choice([-1.0, 1.0], ours.shape)
        ours.assign(value.astype(ours.dtype.as_numpy_dtype))
        theirs.assign(ours.numpy())
    assert len(model.trainable_variables) == len(weights)
    assert len(keras_layer.trainable_variables) == len(weights)
    ours = outputs_and_gradients(
        lambda t: model.predict_on_batch(t, training=True),
        x,
        model.trainable_variables,
    )
    theirs = outputs_and_gradients(keras_layer, x, keras_layer.trainable_variables)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=0, atol=TOLERANCE)
    assert np.std(ours[0]) > 0.1  # not a trivial output
    for mine, keras in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(mine, keras, rtol=0, atol=TOLERANCE)


# group_norm -----------------------------------------------------------------


@pytest.mark.parametrize("groups", [2, 4, 32])
@pytest.mark.parametrize(
    "shape", [(None, 4, 3, 64), (None, 64)], ids=["nhwc", "features"]
)
def test_group_norm_is_keras_group_normalization(tmp_path, groups, shape):
    model = one_layer_model(
        tmp_path,
        f"GroupNorm{groups}x{len(shape)}",
        f"{{group_norm: {{gamma: g, beta: b, groups: {groups}}}}}",
        shape,
        shape,
        weights=("g", "b"),
    )
    layer = tf.keras.layers.GroupNormalization(groups=groups, epsilon=1e-3)
    assert_same_as_keras(model, layer, random_input(shape), ("g", "b"))


@pytest.mark.parametrize(
    "shape", [(None, 5, 12), (None, 12)], ids=["sequence", "features"]
)
def test_group_norm_without_weights_and_with_its_own_epsilon(tmp_path, shape):
    model = one_layer_model(
        tmp_path,
        f"BareGroupNorm{len(shape)}",
        "{group_norm: {groups: 3, epsilon: 0.5}}",
        shape,
        shape,
    )
    layer = tf.keras.layers.GroupNormalization(
        groups=3, epsilon=0.5, center=False, scale=False
    )
    assert_same_as_keras(model, layer, random_input(shape))


# layer_norm -----------------------------------------------------------------


@pytest.mark.parametrize(
    "shape,epsilon,dtype",
    [
        ((None, 4, 3, 16), 1e-3, "float32"),  # Keras' fused path
        ((None, 16), 1e-3, "float32"),
        ((None, 5, 16), 1e-6, "float32"),  # epsilon too small to fuse
        ((None, 16), 1e-3, "float64"),  # not float32: not fused
    ],
    ids=["nhwc-fused", "features-fused", "sequence-unfused", "float64"],
)
def test_layer_norm_is_keras_layer_normalization(tmp_path, shape, epsilon, dtype):
    model = one_layer_model(
        tmp_path,
        f"LayerNorm{len(shape)}{dtype}{int(epsilon < 1e-5)}",
        f"{{layer_norm: {{gamma: g, beta: b, epsilon: {epsilon:.1e}}}}}",
        shape,
        shape,
        weights=("g", "b"),
        dtype=dtype,
    )
    layer = tf.keras.layers.LayerNormalization(epsilon=epsilon, dtype=dtype)
    assert_same_as_keras(model, layer, random_input(shape, dtype), ("g", "b"))


def test_layer_norm_without_weights(tmp_path):
    shape = (None, 3, 10)
    model = one_layer_model(tmp_path, "BareLayerNorm", "layer_norm", shape, shape)
    layer = tf.keras.layers.LayerNormalization(center=False, scale=False)
    assert_same_as_keras(model, layer, random_input(shape))


# pooling --------------------------------------------------------------------


def test_global_average_pooling_is_keras_global_average_pooling_2d(tmp_path):
    shape = (None, 5, 3, 4)
    model = one_layer_model(
        tmp_path, "GlobalAverage", "global_average_pooling", shape, (None, 4)
    )
    layer = tf.keras.layers.GlobalAveragePooling2D()
    assert_same_as_keras(model, layer, random_input(shape))


@pytest.mark.parametrize(
    "size,strides,padding,shape,out",
    [
        (2, None, "VALID", (None, 6, 5, 3), (None, 3, 2, 3)),
        (3, 2, "SAME", (None, 5, 5, 3), (None, 3, 3, 3)),
        (2, 2, "SAME", (None, 5, 7, 3), (None, 3, 4, 3)),
        (3, 1, "VALID", (None, 5, 4, 3), (None, 3, 2, 3)),
    ],
)
def test_avg_pool2d_is_keras_average_pooling_2d(
    tmp_path, size, strides, padding, shape, out
):
    stride = "" if strides is None else f", strides: {strides}"
    model = one_layer_model(
        tmp_path,
        f"AvgPool{size}{strides}{padding}",
        f"{{avg_pool2d: {{size: {size}{stride}, padding: {padding}}}}}",
        shape,
        out,
    )
    layer = tf.keras.layers.AveragePooling2D(size, strides, padding.lower())
    assert_same_as_keras(model, layer, random_input(shape))


def test_avg_pool2d_same_padding_leaves_the_padding_out_of_the_mean(tmp_path):
    shape = (None, 5, 5, 1)
    model = one_layer_model(
        tmp_path,
        "AvgPoolOnes",
        "{avg_pool2d: {size: 2, padding: SAME}}",
        shape,
        (None, 3, 3, 1),
    )
    ones = model.predict_on_batch(tf.ones([1, 5, 5, 1]), training=False)
    np.testing.assert_array_equal(ones.numpy(), np.ones([1, 3, 3, 1]))


# training -------------------------------------------------------------------

TRAINED_SPEC = """\
    wrapgen: 1
    model: {name: NormPool, description: Every normalization and pooling layer.}
    inputs:
      x: {dtype: float32, shape: [null, 6, 6, 8]}
      y: {dtype: float32, shape: [null, 8]}
    label: y
    variables:
      gn_gamma: {shape: [8], initializer: ones}
      gn_beta: {shape: [8], initializer: zeros}
      ln_gamma: {shape: [8], initializer: ones}
      ln_beta: {shape: [8], initializer: zeros}
      out_gamma: {shape: [8], initializer: ones}
    forward:
      layers:
        - group_norm: {gamma: gn_gamma, beta: gn_beta, groups: 4}
        - relu
        - avg_pool2d: {size: 3, strides: 2, padding: SAME}
        - layer_norm: {gamma: ln_gamma, beta: ln_beta}
        - global_average_pooling
        - layer_norm: {gamma: out_gamma, epsilon: 1.0e-6}
    loss: mean_squared_error
    metrics:
      loss: loss
      num_examples: num_examples
    training:
      optimizer: {sgd: {learning_rate: 0.5}}
    """


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "tf.function"])
def test_train_on_batch_trains_every_weight_and_lowers_the_loss(tmp_path, compiled):
    model = module_from_spec(tmp_path, f"trained_{compiled}", TRAINED_SPEC).model_fn()
    rng = np.random.default_rng(3)
    batch = collections.OrderedDict(
        x=tf.constant(rng.normal(size=[5, 6, 6, 8]), tf.float32),
        y=tf.constant(rng.normal(size=[5, 8]), tf.float32),
    )
    step = tf.function(model.train_on_batch) if compiled else model.train_on_batch
    before = [v.numpy().copy() for v in model.trainable_variables]
    losses = [float(step(batch).loss) for _ in range(5)]
    assert all(np.isfinite(losses)), losses
    assert losses[-1] < losses[0], losses
    for old, v in zip(before, model.trainable_variables):
        assert not np.array_equal(old, v.numpy()), v.name
