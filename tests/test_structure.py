"""Residual blocks, per-variable L2 and loss reductions train as Keras defines them.

Each test generates a small spec, copies a Keras model's weights into the
generated model one to one, and compares predictions, the training loss
(with the Keras model's regularization losses, as `from_keras_model` adds
them) and its gradients with TFF's `from_keras_model` of the same model.
"""

from __future__ import annotations

import collections
import os

import numpy as np
import pytest
from test_semantics import module_from_spec

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
tf = pytest.importorskip("tensorflow")
tff = pytest.importorskip("tensorflow_federated")

pytestmark = pytest.mark.tff

RESIDUAL = """\
    wrapgen: 1
    model: {name: Block, description: A pre-activation residual block with a projection shortcut.}
    inputs:
      x: {dtype: float32, shape: [null, 6, 6, 4]}
      y: {dtype: int64, shape: [null]}
    label: y
    variables:
      stem: {shape: [3, 3, 4, 8], initializer: {he_normal: {seed: 1}}, l2: 0.0001}
      conv_a: {shape: [3, 3, 8, 16], initializer: {he_normal: {seed: 2}}, l2: 0.0001}
      conv_b: {shape: [3, 3, 16, 16], initializer: {he_normal: {seed: 3}}, l2: 0.0001}
      project: {shape: [1, 1, 8, 16], initializer: {he_normal: {seed: 4}}, l2: 0.0001}
      head_kernel: {shape: [16, 5], initializer: {random_normal: {seed: 5, stddev: 0.01}}, l2: 0.0001}
      head_bias: {shape: [5], initializer: zeros, l2: 0.0001}
    forward:
      layers:
        - conv2d: {filters: stem, strides: 2}
        - residual:
            layers:
              - relu
              - conv2d: {filters: conv_a}
              - relu
              - conv2d: {filters: conv_b}
            shortcut:
              - conv2d: {filters: project, padding: VALID}
        - relu
        - reduce_mean: {axis: 1}
        - reduce_mean: {axis: 1}
        - dense: {kernel: head_kernel, bias: head_bias}
        - softmax
    loss: {sparse_categorical_crossentropy: {reduction: %s}}
    metrics: {loss: loss, num_examples: num_examples}
    training: {optimizer: {sgd: {learning_rate: 0.1}}}
"""


def keras_block():
    l2 = tf.keras.regularizers.l2(1e-4)
    conv = {"padding": "same", "use_bias": False, "kernel_regularizer": l2}
    inputs = tf.keras.Input((6, 6, 4))
    x = tf.keras.layers.Conv2D(8, 3, strides=2, **conv)(inputs)
    r = tf.keras.layers.ReLU()(x)
    r = tf.keras.layers.Conv2D(16, 3, **conv)(r)
    r = tf.keras.layers.ReLU()(r)
    r = tf.keras.layers.Conv2D(16, 3, **conv)(r)
    s = tf.keras.layers.Conv2D(
        16, 1, padding="valid", use_bias=False, kernel_regularizer=l2
    )(x)
    x = tf.keras.layers.Add()([s, r])
    x = tf.keras.layers.ReLU()(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    outputs = tf.keras.layers.Dense(
        5, activation="softmax", kernel_regularizer=l2, bias_regularizer=l2
    )(x)
    return tf.keras.Model(inputs, outputs)


def _batch():
    rng = np.random.default_rng(0)
    return collections.OrderedDict(
        x=rng.normal(size=(3, 6, 6, 4)).astype(np.float32),
        y=rng.integers(0, 5, size=(3,)).astype(np.int64),
    )


def _in_spec_order(keras_model):
    """The Keras weights in the order the spec declares its variables."""
    convs = {
        tuple(layer.kernel.shape): layer.kernel
        for layer in keras_model.layers
        if isinstance(layer, tf.keras.layers.Conv2D)
    }
    dense = keras_model.layers[-1]
    order = [(3, 3, 4, 8), (3, 3, 8, 16), (3, 3, 16, 16), (1, 1, 8, 16)]
    return [convs[shape] for shape in order] + [dense.kernel, dense.bias]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_residual_block_with_l2_matches_from_keras_model(tmp_path, reduction):
    module = module_from_spec(tmp_path, f"block_{reduction}", RESIDUAL % reduction)
    keras_model = keras_block()
    rng = np.random.default_rng(1)
    for weight in keras_model.weights:
        weight.assign(rng.normal(scale=0.3, size=weight.shape).astype(np.float32))
    model = module.model_fn()
    ordered = _in_spec_order(keras_model)
    assert [tuple(v.shape) for v in model.trainable_variables] == [
        tuple(w.shape) for w in ordered
    ]
    for variable, weight in zip(model.trainable_variables, ordered):
        variable.assign(weight)
    keras_reduction = (
        tf.keras.losses.Reduction.SUM
        if reduction == "sum"
        else tf.keras.losses.Reduction.AUTO
    )
    reference = tff.learning.models.from_keras_model(
        keras_model,
        loss=tf.keras.losses.SparseCategoricalCrossentropy(reduction=keras_reduction),
        input_spec=module.INPUT_SPEC,
    )
    batch = _batch()
    np.testing.assert_allclose(
        model.predict_on_batch(batch["x"], training=False),
        keras_model(batch["x"], training=False),
        rtol=1e-5,
        atol=1e-6,
    )
    with tf.GradientTape(persistent=True) as tape:
        ours = model.forward_pass(batch, training=True).loss
        theirs = reference.forward_pass(batch, training=True).loss
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    for mine, keras_weight in zip(
        tape.gradient(ours, model.trainable_variables),
        tape.gradient(theirs, ordered),
    ):
        np.testing.assert_allclose(mine, keras_weight, rtol=1e-4, atol=1e-6)


def test_residual_block_trains_in_fedavg(tmp_path):
    module = module_from_spec(tmp_path, "block_fedavg", RESIDUAL % "mean")
    process = tff.learning.algorithms.build_weighted_fed_avg(
        module.model_fn,
        client_optimizer_fn=module.client_optimizer(),
        metrics_aggregator=module.metrics_aggregator,
    )
    data = [tf.data.Dataset.from_tensor_slices(_batch()).batch(2) for _ in range(2)]
    state = process.initialize()
    before = process.get_model_weights(state).trainable
    output = process.next(state, data)
    after = process.get_model_weights(output.state).trainable
    assert output.metrics["client_work"]["train"]["num_examples"] == 6
    assert any(not np.allclose(a, b) for a, b in zip(before, after))


MASKED = """\
    wrapgen: 1
    model: {{name: Masked, description: A padding mask meets a layer before an LSTM.}}
    inputs:
      x: {{dtype: int32, shape: [null, 6]}}
      y: {{dtype: float32, shape: [null, 4]}}
    label: y
    variables:
      t: {{shape: [10, 4], initializer: zeros}}
      k: {{shape: [{width}, 16], initializer: zeros}}
      r: {{shape: [4, 16], initializer: zeros}}
    forward:
      layers:
        - embedding: {{table: t, mask_zero: true}}
        - {layer}
        - lstm: {{kernel: k, recurrent_kernel: r}}
    loss: mean_squared_error
    metrics: {{loss: loss, num_examples: num_examples}}
    training: {{optimizer: {{sgd: {{learning_rate: 0.1}}}}}}
"""


@pytest.mark.parametrize(
    "layer,width,keeps",
    [
        ("relu", 4, True),
        ("{dropout: {rate: 0.5}}", 4, True),
        ("{reshape: {shape: [6, 4]}}", 4, False),  # Keras' Reshape drops the mask
        ("{reshape: {shape: [3, 8]}}", 8, False),
    ],
)
def test_a_mask_passes_only_layers_that_keep_it_as_in_keras(
    tmp_path, layer, width, keeps
):
    import textwrap

    from codegen import generate

    spec = tmp_path / "masked.yaml"
    spec.write_text(textwrap.dedent(MASKED.format(layer=layer, width=width)))
    text = generate(spec).text
    assert ("x = _lstm(x, mask," in text) == keeps
    assert ("x = _lstm(x, None," in text) == (not keeps)
