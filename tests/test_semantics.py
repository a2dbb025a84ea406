"""Generated models train as their spec says, with the semantics of TFF's `from_keras_model`.

Each test runs real TFF 0.87: dropout across clients, batches and rounds;
`train_on_batch` with every optimizer and every catalogue layer; a Keras
model's own losses; max/min metrics in evaluation; reproducible runs.
"""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLE_NAMES, EXAMPLES, ROOT

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
tf = pytest.importorskip("tensorflow")
tff = pytest.importorskip("tensorflow_federated")

from codegen import catalogue, generate  # noqa: E402
from codegen.synthetic import make_client_data  # noqa: E402
from codegen.train import import_module_file, output_width, to_datasets  # noqa: E402

pytestmark = pytest.mark.tff


def module_from_spec(tmp_path: Path, name: str, text: str, builders: str = ""):
    """Write a spec (and a Keras builder module), generate its module, import it."""
    if builders:
        (tmp_path / f"{name}_builders.py").write_text(textwrap.dedent(builders))
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(textwrap.dedent(text))
    generated = generate(spec)
    path = tmp_path / f"{name}.py"
    path.write_text(generated.text)
    return import_module_file(path, f"semantics_{name}")


def example(name: str):
    return import_module_file(EXAMPLES / f"{name}.py", f"semantics_example_{name}")


def example_batch(name: str, module, examples: int = 24, seed: int = 0):
    spec = generate(EXAMPLES / f"{name}.yaml").spec
    clients = make_client_data(spec, 1, examples, seed, output_width(module))
    return next(iter(to_datasets(clients, batch_size=examples)[0]))


# Dropout -------------------------------------------------------------------

DROPOUT_SPEC = """\
    wrapgen: 1
    model: {{name: Dropped, description: A dense layer followed by dropout.}}
    inputs:
      x: {{dtype: float32, shape: [null, 32]}}
      y: {{dtype: float32, shape: [null, 32]}}
    label: y
    variables:
      kernel: {{shape: [32, 32], initializer: {{glorot_uniform: {{seed: 1}}}}}}
    forward:
      layers:
        - dense: {{kernel: kernel}}
        - dropout: {dropout}
    loss: mean_squared_error
    metrics:
      loss: loss
      num_examples: num_examples
    training:
      optimizer: {{sgd: {{learning_rate: 0.1}}}}
    """


def dropout_module(tmp_path, dropout: str, name: str):
    return module_from_spec(tmp_path, name, DROPOUT_SPEC.format(dropout=dropout))


BATCH_TYPE = collections.OrderedDict(
    x=tff.TensorType(np.float32, [None, 32]), y=tff.TensorType(np.float32, [None, 32])
)


def masks_per_client(module):
    """A federated computation: each client's training-mode dropout masks, batch by batch."""

    @tff.tensorflow.computation(
        tff.types.tensorflow_to_type(
            [(v.dtype, v.shape) for v in module.model_fn().trainable_variables]
        ),
        tff.SequenceType(BATCH_TYPE),
    )
    def client_masks(weights, dataset):
        model = module.model_fn()
        assigned = [v.assign(w) for v, w in zip(model.trainable_variables, weights)]
        with tf.control_dependencies(assigned):
            return dataset.reduce(
                tf.zeros([0, 32], tf.bool),
                lambda masks, batch: tf.concat(
                    [
                        masks,
                        tf.equal(
                            model.forward_pass(batch, training=True).predictions, 0.0
                        ),
                    ],
                    0,
                ),
            )

    @tff.federated_computation(
        tff.FederatedType(client_masks.type_signature.parameter[0], tff.CLIENTS),
        tff.FederatedType(tff.SequenceType(BATCH_TYPE), tff.CLIENTS),
    )
    def masks(weights, datasets):
        return tff.federated_map(client_masks, (weights, datasets))

    return masks


def batches(seed: int, count: int = 1, examples: int = 8):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=[count * examples, 32]).astype(np.float32)
    data = collections.OrderedDict(x=x, y=np.zeros_like(x))
    return tf.data.Dataset.from_tensor_slices(data).batch(examples)


def weights_of(module, seed: int = 1):
    rng = np.random.default_rng(seed)
    return [
        rng.normal(size=v.shape).astype(np.float32)
        for v in module.model_fn().trainable_variables
    ]


def distinct(masks) -> bool:
    return all(
        not np.array_equal(masks[i], masks[j])
        for i in range(len(masks))
        for j in range(i + 1, len(masks))
    )


def test_unseeded_dropout_draws_another_mask_on_each_client_even_for_the_same_batch(
    tmp_path,
):
    module = dropout_module(tmp_path, "{rate: 0.5}", "unseeded")
    masks = masks_per_client(module)
    weights = weights_of(module)
    same = batches(seed=0)
    assert distinct(masks([weights] * 3, [same] * 3))


def test_seeded_dropout_masks_differ_across_clients_batches_and_rounds(tmp_path):
    module = dropout_module(tmp_path, "{rate: 0.5, seed: 7}", "seeded")
    masks = masks_per_client(module)
    weights = weights_of(module, seed=1)
    clients = masks([weights] * 3, [batches(seed=s, count=2) for s in range(3)])
    assert distinct(clients), "clients with different data drew the same masks"
    first, second = clients[0][:8], clients[0][8:]
    assert not np.array_equal(first, second), "two batches drew the same mask"
    next_round = masks([weights_of(module, seed=2)], [batches(seed=0, count=2)])
    assert not np.array_equal(next_round[0], clients[0]), "a new round reused masks"
    rate = np.mean(np.concatenate(clients))
    assert 0.4 < rate < 0.6, rate


def test_seeded_dropout_is_reproducible_and_evaluation_is_deterministic(tmp_path):
    module = dropout_module(tmp_path, "{rate: 0.5, seed: 7}", "repeat")
    masks = masks_per_client(module)
    weights, data = weights_of(module), [batches(seed=s) for s in range(2)]
    np.testing.assert_array_equal(
        np.stack(masks([weights] * 2, data)), np.stack(masks([weights] * 2, data))
    )
    model = module.model_fn()
    batch = next(iter(batches(seed=0)))
    first = model.forward_pass(batch, training=False).predictions
    second = model.forward_pass(batch, training=False).predictions
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(
        first, tf.matmul(batch["x"], model.trainable_variables[0])
    )


# train_on_batch ------------------------------------------------------------

EVERY_LAYER_SPEC = """\
    wrapgen: 1
    model: {{name: EveryLayer, description: One model that uses every layer of the catalogue.}}
    inputs:
      tokens: {{dtype: int32, shape: [null, 16]}}
      label: {{dtype: int32, shape: [null, 1]}}
    label: label
    variables:
      table: {{shape: [50, 8], initializer: {{truncated_normal: {{seed: 1, stddev: 0.5}}}}}}
      lstm_kernel: {{shape: [8, 32], initializer: {{he_normal: {{seed: 6}}}}}}
      lstm_recurrent: {{shape: [8, 32], initializer: {{orthogonal: {{seed: 7}}}}}}
      lstm_bias: {{shape: [32], initializer: unit_forget_bias}}
      gru_kernel: {{shape: [8, 24], initializer: {{lecun_uniform: {{seed: 8}}}}}}
      gru_recurrent: {{shape: [8, 24], initializer: {{glorot_normal: {{seed: 9}}}}}}
      gru_bias: {{shape: [2, 24], initializer: zeros}}
      mean: {{shape: [8], initializer: zeros, trainable: false}}
      std: {{shape: [8], initializer: ones, trainable: false}}
      filters: {{shape: [3, 3, 8, 4], initializer: {{glorot_uniform: {{seed: 2}}}}, l2: 0.001}}
      filters_bias: {{shape: [4], initializer: {{constant: {{value: 0.1}}}}}}
      gn_gamma: {{shape: [4], initializer: ones}}
      gn_beta: {{shape: [4], initializer: zeros}}
      hidden: {{shape: [4, 8], initializer: {{he_uniform: {{seed: 3}}}}}}
      hidden_bias: {{shape: [8], initializer: zeros}}
      ln_gamma: {{shape: [8], initializer: ones}}
      ln_beta: {{shape: [8], initializer: zeros}}
      block: {{shape: [8, 8], initializer: {{lecun_normal: {{seed: 10}}}}}}
      logits: {{shape: [4, 3], initializer: {{random_uniform: {{seed: 4}}}}}}
      logits_bias: {{shape: [3], initializer: {{random_normal: {{seed: 11, stddev: 0.01}}}}}}
    forward:
      layers:
        - embedding: {{table: table, mask_zero: true}}
        - lstm: {{kernel: lstm_kernel, recurrent_kernel: lstm_recurrent, bias: lstm_bias, return_sequences: true}}
        - gru: {{kernel: gru_kernel, recurrent_kernel: gru_recurrent, bias: gru_bias, return_sequences: true}}
        - reshape: {{shape: [4, 4, 8]}}
        - normalize: {{mean: mean, std: std}}
        - conv2d: {{filters: filters, bias: filters_bias}}
        - group_norm: {{gamma: gn_gamma, beta: gn_beta, groups: 2}}
        - relu
        - avg_pool2d: {{size: 2, strides: 1, padding: SAME}}
        - max_pool2d: {{size: 2}}
        - global_average_pooling
        - flatten
        - dense: {{kernel: hidden, bias: hidden_bias}}
        - layer_norm: {{gamma: ln_gamma, beta: ln_beta}}
        - residual: {{layers: [{{dense: {{kernel: block}}}}, relu]}}
        - tanh
        - dropout: {{rate: 0.1, seed: 5}}
        - reshape: {{shape: [2, 4]}}
        - reduce_mean: {{axis: 1}}
        - sigmoid
        - dense: {{kernel: logits, bias: logits_bias}}
        - softmax
    loss: {{sparse_categorical_crossentropy: {{l2: 0.0001}}}}
    metrics:
      loss: loss
      accuracy: sparse_categorical_accuracy
      num_examples: num_examples
    training:
      optimizer: {optimizer}
    """

OPTIMIZERS = {
    "sgd": "{sgd: {learning_rate: 0.5}}",
    "momentum": "{sgd: {learning_rate: 0.5, momentum: 0.9}}",
    "adam": "{adam: {learning_rate: 0.01}}",
}


def test_the_every_layer_spec_uses_every_catalogue_layer():
    used = {
        line.split("- ")[1].split(":")[0].strip()
        for line in EVERY_LAYER_SPEC.splitlines()
        if line.strip().startswith("- ")
    }
    assert used == set(catalogue.LAYERS)


def test_the_every_layer_spec_uses_every_catalogue_initializer():
    """Every initializer is also used (and so trains) in the every-layer spec."""
    used = set(re.findall(r"initializer: (?:\{\{)?(\w+)", EVERY_LAYER_SPEC))
    assert used == set(catalogue.INITIALIZERS)


def every_layer_batch():
    rng = np.random.default_rng(0)
    return collections.OrderedDict(
        x=tf.constant(rng.integers(0, 50, [12, 16]), tf.int32),
        y=tf.constant(rng.integers(0, 3, [12, 1]), tf.int32),
    )


def assert_trains_only_trainable(model, step, batch):
    trainable = [v.numpy().copy() for v in model.trainable_variables]
    frozen = [v.numpy().copy() for v in model.non_trainable_variables]
    output = step(batch)
    assert np.isfinite(float(output.loss))
    changed = [
        not np.array_equal(old, v.numpy())
        for old, v in zip(trainable, model.trainable_variables)
    ]
    assert all(changed), changed
    for old, v in zip(frozen, model.non_trainable_variables):
        np.testing.assert_array_equal(old, v.numpy())


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "tf.function"])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_train_on_batch_with_every_layer_and_optimizer(tmp_path, optimizer, compiled):
    module = module_from_spec(
        tmp_path,
        f"every_{optimizer}_{compiled}",
        EVERY_LAYER_SPEC.format(optimizer=OPTIMIZERS[optimizer]),
    )
    model = module.model_fn()
    step = tf.function(model.train_on_batch) if compiled else model.train_on_batch
    assert_trains_only_trainable(model, step, every_layer_batch())


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "tf.function"])
@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_train_on_batch_of_every_example(name, compiled):
    module = example(name)
    model = module.model_fn()
    step = tf.function(model.train_on_batch) if compiled else model.train_on_batch
    assert_trains_only_trainable(model, step, example_batch(name, module))


# A Keras model's own losses -----------------------------------------------

REGULARIZED_BUILDER = """\
    import tensorflow as tf


    def build():
        inputs = tf.keras.Input(shape=(12,), name="x")
        hidden = tf.keras.layers.Dense(
            8,
            activation="relu",
            kernel_regularizer=tf.keras.regularizers.l2(0.05),
            bias_regularizer=tf.keras.regularizers.l1(0.01),
            kernel_initializer=tf.keras.initializers.GlorotUniform(seed=1),
            bias_initializer="ones",
        )(inputs)
        outputs = tf.keras.layers.Dense(
            3,
            activation="softmax",
            kernel_regularizer=tf.keras.regularizers.l1_l2(l1=0.01, l2=0.02),
            kernel_initializer=tf.keras.initializers.GlorotUniform(seed=2),
        )(hidden)
        return tf.keras.Model(inputs, outputs)
    """

REGULARIZED_SPEC = """\
    wrapgen: 1
    model: {name: Regularized, description: A Keras model whose layers carry regularizers.}
    inputs:
      x: {dtype: float32, shape: [null, 12]}
      y: {dtype: int32, shape: [null, 1]}
    label: y
    forward: {keras: regularized_builders:build}
    loss: sparse_categorical_crossentropy
    metrics:
      loss: loss
      accuracy: sparse_categorical_accuracy
      num_examples: num_examples
    training:
      optimizer: {sgd: {learning_rate: 0.1}}
    """


def test_keras_losses_are_added_as_from_keras_model_adds_them(tmp_path):
    module = module_from_spec(
        tmp_path, "regularized", REGULARIZED_SPEC, REGULARIZED_BUILDER
    )
    ours = module.model_fn()
    builder = sys.modules["regularized_builders"].build
    theirs = tff.learning.models.from_keras_model(
        builder(),
        input_spec=module.INPUT_SPEC,
        loss=tf.keras.losses.SparseCategoricalCrossentropy(),
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    rng = np.random.default_rng(0)
    for mine, keras_weight in zip(ours.trainable_variables, theirs.trainable_variables):
        value = rng.normal(size=mine.shape).astype(np.float32)
        mine.assign(value)
        keras_weight.assign(value)
    batch = collections.OrderedDict(
        x=tf.constant(rng.normal(size=[10, 12]), tf.float32),
        y=tf.constant(rng.integers(0, 3, [10, 1]), tf.int32),
    )

    def loss_and_gradients(model):
        with tf.GradientTape() as tape:
            output = model.forward_pass(batch, training=True)
        return output.loss, tape.gradient(output.loss, model.trainable_variables)

    our_loss, our_gradients = loss_and_gradients(ours)
    their_loss, their_gradients = loss_and_gradients(theirs)
    regularization = float(tf.add_n(ours._keras_model.losses))
    assert regularization > 0.01
    np.testing.assert_allclose(our_loss, their_loss, atol=1e-6)
    for a, b in zip(our_gradients, their_gradients):
        np.testing.assert_allclose(a, b, atol=1e-6)
    ours_metrics = ours.report_local_outputs()
    total, count = theirs.report_local_unfinalized_metrics()["loss"]  # a Keras Mean
    np.testing.assert_allclose(ours_metrics["loss"], total / count, atol=1e-6)
    assert float(ours_metrics["loss"]) < float(our_loss) - 0.01


# Max and min metrics in evaluation ----------------------------------------


def test_fed_eval_max_and_min_are_the_extremes_of_the_clients_values():
    module = example("bag_of_words")
    spec = generate(EXAMPLES / "bag_of_words.yaml").spec
    clients = to_datasets(
        make_client_data(spec, 4, 40, 3, output_width(module)), batch_size=16
    )
    clients[1] = clients[1].take(1)
    weights = tff.learning.models.ModelWeights.from_model(module.model_fn())
    by_hand = []
    for dataset in clients:
        model = module.model_fn()
        for batch in dataset:
            model.forward_pass(batch, training=False)
        by_hand.append(model.report_local_outputs())
    evaluation = tff.learning.algorithms.build_fed_eval(
        module.model_fn,
        metrics_aggregation_process=module.metrics_aggregation_process(),
    )
    state = evaluation.set_model_weights(evaluation.initialize(), weights)
    metrics = evaluation.next(state, clients).metrics["client_work"]["eval"]
    current = metrics["current_round_metrics"]
    losses = [float(o["loss"]) for o in by_hand]
    assert len(set(losses)) == 4
    assert current["worst_client_loss"] == pytest.approx(max(losses), rel=1e-6)
    assert current["best_client_loss"] == pytest.approx(min(losses), rel=1e-6)
    assert current["largest_client"] == 40
    assert current["num_examples"] == 40 * 3 + 16
    sizes = np.array([int(o["num_examples"]) for o in by_hand])
    assert current["loss"] == pytest.approx(
        np.sum(sizes * np.array(losses)) / sizes.sum(), rel=1e-5
    )
    total = metrics["total_rounds_metrics"]
    assert total["worst_client_loss"] == current["worst_client_loss"]


# Reproducible runs ---------------------------------------------------------

UNSEEDED_BUILDER = """\
    import tensorflow as tf


    def build():
        inputs = tf.keras.Input(shape=(10,), name="x")
        hidden = tf.keras.layers.Dense(16, activation="relu")(inputs)
        return tf.keras.Model(inputs, tf.keras.layers.Dense(4)(hidden))
    """

UNSEEDED_SPEC = """\
    wrapgen: 1
    model: {name: Unseeded, description: A Keras model with unseeded initializers.}
    inputs:
      x: {dtype: float32, shape: [null, 10]}
      y: {dtype: int32, shape: [null, 1]}
    label: y
    forward: {keras: unseeded_builders:build}
    loss: {sparse_categorical_crossentropy: {from_logits: true}}
    metrics:
      loss: loss
      num_examples: num_examples
    training:
      optimizer: {sgd: {learning_rate: 0.1}}
    """


def run_history(spec: Path, seed: str) -> list:
    result = subprocess.run(
        [sys.executable, "-m", "codegen", "run", str(spec), "--data", "synthetic"]
        + ["--rounds", "2", "--clients", "3", "--data-clients", "4"]
        + ["--examples", "32", "--seed", seed, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])["history"]


@pytest.mark.parametrize("kind", ["keras", "layers"])
def test_the_same_seed_reproduces_a_whole_run(tmp_path, kind):
    if kind == "keras":
        (tmp_path / "unseeded_builders.py").write_text(
            textwrap.dedent(UNSEEDED_BUILDER)
        )
        spec = tmp_path / "unseeded.yaml"
        spec.write_text(textwrap.dedent(UNSEEDED_SPEC))
    else:
        spec = EXAMPLES / "mnist_cnn.yaml"  # seeded dropout and initializers
    first, second = run_history(spec, "3"), run_history(spec, "3")
    assert first == second
    assert run_history(spec, "4") != first


# Batch keys ----------------------------------------------------------------


def test_a_batch_keyed_by_input_names_is_told_which_key_carries_which_input():
    module = example("bag_of_words")
    assert module.BATCH_KEYS == {"x": "tokens", "y": "label"}
    batch = example_batch("bag_of_words", module, examples=4)
    with pytest.raises(ValueError) as raised:
        module.model_fn().forward_pass({"tokens": batch["x"], "label": batch["y"]})
    message = str(raised.value)
    assert "'x' carries 'tokens', 'y' carries 'label'" in message
    assert "got ['label', 'tokens']" in message
