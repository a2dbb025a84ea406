"""Generated `lstm` and `gru` layers compute what Keras 2.14's LSTM and GRU compute.

Each test writes a spec (embedding with mask_zero, two recurrent layers, dense),
generates its module and copies into it the weights of the same `tf.keras`
layers (`Embedding(mask_zero=True)`, two `LSTM`s or `GRU`s, `Dense`), which
hand the mask on as in a Keras model: outputs and gradients agree to 1e-5 on a
batch padded with id 0 (right-padded rows, interior and leading zeros),
eagerly and inside `tf.function` with an unknown batch size. Training steps
run eagerly, in `tf.function` and in a TFF computation over batches of two
sizes.
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
tff = pytest.importorskip("tensorflow_federated")

from codegen import generate  # noqa: E402
from codegen.train import import_module_file  # noqa: E402

pytestmark = pytest.mark.tff

VOCABULARY, WIDTH, UNITS, STEPS = 11, 5, 6, 7

SPEC = """\
    wrapgen: 1
    model: {{name: Recurrent, description: Embedding then two recurrent layers then dense.}}
    inputs:
      tokens: {{dtype: int32, shape: [null, {steps}]}}
      label: {{dtype: int32, shape: {label}}}
    label: label
    variables:
      table: {{shape: [{vocabulary}, {width}], initializer: {{random_uniform: {{seed: 1}}}}}}
      kernel_1: {{shape: [{width}, {gated}], initializer: {{glorot_uniform: {{seed: 2}}}}}}
      recurrent_1: {{shape: [{units}, {gated}], initializer: {{orthogonal: {{seed: 3}}}}}}
      bias_1: {{shape: {bias}, initializer: zeros}}
      kernel_2: {{shape: [{units}, {gated}], initializer: {{glorot_uniform: {{seed: 4}}}}}}
      recurrent_2: {{shape: [{units}, {gated}], initializer: {{orthogonal: {{seed: 5}}}}}}
      bias_2: {{shape: {bias}, initializer: zeros}}
      logits: {{shape: [{units}, {vocabulary}], initializer: {{glorot_uniform: {{seed: 6}}}}}}
      logits_bias: {{shape: [{vocabulary}], initializer: zeros}}
    forward:
      layers:
        - embedding: {{table: table, mask_zero: true}}
        - {kind}: {{kernel: kernel_1, recurrent_kernel: recurrent_1, bias: bias_1, return_sequences: true}}
        - {kind}: {{kernel: kernel_2, recurrent_kernel: recurrent_2, bias: bias_2, return_sequences: {sequences}}}
        - dense: {{kernel: logits, bias: logits_bias}}
    loss: {{sparse_categorical_crossentropy: {{from_logits: true}}}}
    metrics:
      loss: loss
      num_examples: num_examples
    training:
      optimizer: {{sgd: {{learning_rate: 0.5}}}}
    """

WEIGHTS = (
    "table",
    "kernel_1",
    "recurrent_1",
    "bias_1",
    "kernel_2",
    "recurrent_2",
    "bias_2",
    "logits",
    "logits_bias",
)
"""The spec's variables, in the order of the Keras model's weights."""

TOKENS = np.array(
    [
        [3, 5, 1, 7, 2, 0, 0],  # right-padded
        [4, 0, 6, 0, 0, 8, 9],  # interior zeros
        [0, 0, 2, 3, 4, 5, 6],  # leading zeros: outputs stay zero until id 2
        [1, 2, 3, 4, 5, 6, 7],  # no padding
        [5, 0, 0, 0, 0, 0, 0],  # one id, then padding
        [9, 10, 0, 10, 9, 0, 0],  # both
    ],
    np.int32,
)


def generated_module(tmp_path: Path, kind: str, sequences: bool):
    gates = {"lstm": 4, "gru": 3}[kind]
    bias = f"[{gates * UNITS}]" if kind == "lstm" else f"[2, {gates * UNITS}]"
    text = SPEC.format(
        kind=kind,
        sequences="true" if sequences else "false",
        label=f"[null, {STEPS}]" if sequences else "[null]",
        steps=STEPS,
        vocabulary=VOCABULARY,
        width=WIDTH,
        units=UNITS,
        gated=gates * UNITS,
        bias=bias,
    )
    name = f"recurrent_{kind}_{'sequences' if sequences else 'last'}"
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(textwrap.dedent(text))
    path = tmp_path / f"{name}.py"
    path.write_text(generate(spec).text)
    return import_module_file(path, name)


class KerasStack:
    """The Keras layers the spec describes, called eagerly one after another
    (Keras hands the embedding's mask on), with random weights, biases too."""

    def __init__(self, kind: str, sequences: bool) -> None:
        layer = {"lstm": tf.keras.layers.LSTM, "gru": tf.keras.layers.GRU}[kind]
        self.layers = [
            tf.keras.layers.Embedding(VOCABULARY, WIDTH, mask_zero=True),
            layer(UNITS, return_sequences=True),
            layer(UNITS, return_sequences=sequences),
            tf.keras.layers.Dense(VOCABULARY),
        ]
        self(tf.constant(TOKENS))
        rng = np.random.default_rng(7)
        for weight in self.trainable_weights:
            weight.assign(rng.normal(0, 0.6, weight.shape).astype(np.float32))

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    @property
    def trainable_weights(self) -> list[tf.Variable]:
        return [w for layer in self.layers for w in layer.trainable_weights]


def copy_weights(keras: KerasStack, model) -> list[tf.Variable]:
    """Keras' weights into the generated model; its variables in Keras' order."""
    assert len(keras.trainable_weights) == len(WEIGHTS)
    variables = [getattr(model, name) for name in WEIGHTS]
    for variable, weight in zip(variables, keras.trainable_weights):
        assert variable.shape == weight.shape, (variable.name, weight.name)
        variable.assign(weight)
    return variables


def outputs_and_gradients(predict, tokens, variables, scale):
    """The outputs and the gradients of sum(outputs * scale) for `variables`."""
    with tf.GradientTape() as tape:
        outputs = predict(tokens)
        loss = tf.reduce_sum(outputs * scale)
    gradients = tape.gradient(loss, variables)
    return outputs, [tf.convert_to_tensor(g) for g in gradients]


def assert_matches_keras(
    tmp_path: Path, kind: str, sequences: bool, compiled: bool
) -> None:
    """Outputs and gradients of the generated model are Keras', eagerly and, with
    `compiled`, in a `tf.function` traced for any batch size."""
    module = generated_module(tmp_path, kind, sequences)
    model = module.model_fn()
    keras = KerasStack(kind, sequences)
    variables = copy_weights(keras, model)
    tokens = tf.constant(TOKENS)
    shape = (len(TOKENS), STEPS, VOCABULARY) if sequences else (len(TOKENS), VOCABULARY)
    scale = tf.constant(np.random.default_rng(8).normal(size=shape), tf.float32)
    expected, expected_gradients = outputs_and_gradients(
        keras, tokens, keras.trainable_weights, scale
    )
    assert expected.shape == shape
    predicts = [lambda x: model.predict_on_batch(x, training=False)]
    if compiled:
        predicts.append(
            tf.function(
                predicts[0], input_signature=[tf.TensorSpec([None, STEPS], tf.int32)]
            )
        )
    for predict in predicts:
        outputs, gradients = outputs_and_gradients(predict, tokens, variables, scale)
        np.testing.assert_allclose(outputs, expected, atol=1e-5, rtol=0)
        for name, got, want in zip(WEIGHTS, gradients, expected_gradients):
            np.testing.assert_allclose(got, want, atol=1e-5, rtol=0, err_msg=name)
    if sequences:  # masked steps carry the last output forward; zeros before any
        outputs = np.asarray(outputs)
        np.testing.assert_array_equal(outputs[0, 5], outputs[0, 4])
        np.testing.assert_array_equal(outputs[1, 1], outputs[1, 0])
        bias = model.logits_bias.numpy()
        np.testing.assert_array_equal(outputs[2, :2], [bias, bias])
        assert not np.allclose(outputs[2, 2], bias)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_sequences_match_keras_with_a_mask(tmp_path, kind):
    assert_matches_keras(tmp_path, kind, sequences=True, compiled=True)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_last_output_matches_keras_with_a_mask(tmp_path, kind):
    assert_matches_keras(tmp_path, kind, sequences=False, compiled=False)


def labelled_batch() -> collections.OrderedDict:
    labels = np.random.default_rng(9).integers(0, VOCABULARY, TOKENS.shape)
    return collections.OrderedDict(
        x=tf.constant(TOKENS), y=tf.constant(labels, tf.int32)
    )


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_train_on_batch_trains_every_weight_eagerly_and_in_tf_function(tmp_path, kind):
    module = generated_module(tmp_path, kind, sequences=True)
    model = module.model_fn()
    batch = labelled_batch()
    compiled = tf.function(model.train_on_batch, input_signature=[module.INPUT_SPEC])
    losses = []
    for step in (model.train_on_batch, compiled, compiled):
        before = [v.numpy().copy() for v in model.trainable_variables]
        losses.append(float(step(batch).loss))
        changed = [
            not np.array_equal(old, v.numpy())
            for old, v in zip(before, model.trainable_variables)
        ]
        assert all(changed), changed
    assert np.all(np.isfinite(losses))
    assert losses[2] < losses[1] < losses[0]


def test_a_tff_computation_trains_a_last_output_model_for_any_batch_size(tmp_path):
    module = generated_module(tmp_path, "gru", sequences=False)
    batch_type = tff.types.tensorflow_to_type(module.INPUT_SPEC)

    @tff.tensorflow.computation(tff.SequenceType(batch_type))
    def train(dataset):
        model = module.model_fn()
        losses = dataset.reduce(
            tf.zeros([0]),
            lambda losses, batch: tf.concat(
                [losses, [model.train_on_batch(batch).loss]], 0
            ),
        )
        with tf.control_dependencies([losses]):
            return losses, [tf.identity(v) for v in model.trainable_variables]

    labels = np.random.default_rng(9).integers(0, VOCABULARY, len(TOKENS))
    data = tf.data.Dataset.from_tensor_slices((TOKENS, labels.astype(np.int32)))
    dataset = data.map(lambda x, y: collections.OrderedDict(x=x, y=y)).batch(4)
    losses, trained = train(dataset.repeat(3))
    initial = [v.numpy() for v in module.model_fn().trainable_variables]
    assert len(losses) == 6 and np.all(np.isfinite(losses))
    assert all(not np.array_equal(a, b) for a, b in zip(initial, trained))
