"""The baseline specs compute what TFF's own simulation baselines compute.

Each spec of `generated_examples/baselines/` writes one model of
`tff.simulation.baselines` (or `tff.simulation.models`) as a layer stack with
the task's loss and metrics. For each, with real TFF 0.87: the builder's Keras
model is wrapped with `tff.learning.models.from_keras_model` and the task's loss
and metrics, its weights are copied one to one into the generated model, and on
one random batch of the task's dtypes and shapes the two give the same
predictions, training loss (Keras regularization losses included), gradients and
metrics. Then the generated model runs one FedAvg round, which moves the weights
as SGD on the Keras model's client gradients does, and one `fed_eval`, which
reports the task's metrics as the Keras model reports them on the same batches.
Initial weights follow the builders' initializers: constants exactly (an
LSTM bias starts with ones in its forget gate's block, as Keras' does), random
ones in distribution. A spec whose catalogue entries do not
exist yet is skipped, naming the problem.
"""

from __future__ import annotations

import collections
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from conftest import EXAMPLES

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
tf = pytest.importorskip("tensorflow")
tff = pytest.importorskip("tensorflow_federated")

from codegen import generate  # noqa: E402
from codegen.errors import WrapgenError  # noqa: E402
from codegen.train import import_module_file  # noqa: E402

pytestmark = pytest.mark.tff

BASELINES = EXAMPLES / "baselines"
TOLERANCE = {"rtol": 1e-4, "atol": 1e-4}
BATCH = 4  # examples per parity batch; the FedAvg and fed_eval clients hold 2 each


# The TFF builders and the tasks' losses and metrics ------------------------


def emnist_models():
    from tensorflow_federated.python.simulation.baselines.emnist import emnist_models

    return emnist_models


def masked_accuracy(name: str, masked: list[int]):
    from tensorflow_federated.python.simulation.baselines import keras_metrics

    return keras_metrics.MaskedCategoricalAccuracy(name=name, masked_tokens=masked)


def num_tokens():
    from tensorflow_federated.python.simulation.baselines import keras_metrics

    return keras_metrics.NumTokensCounter(masked_tokens=[0])


def emnist_batch(rng):
    x = rng.uniform(size=[BATCH, 28, 28, 1]).astype(np.float32)
    return x, rng.integers(0, 62, [BATCH]).astype(np.int32)


def autoencoder_batch(rng):
    x = rng.uniform(size=[BATCH, 784]).astype(np.float32)
    return x, x.copy()


def tag_batch(rng):
    """A normalized in-vocabulary bag of words and multi-hot tags, as the task makes them."""
    x = np.zeros([BATCH, 10000], np.float32)
    y = np.zeros([BATCH, 500], np.float32)
    for row in range(BATCH):
        np.add.at(x[row], rng.integers(0, 10000, 30), 1.0)
        y[row, rng.choice(500, row + 1, replace=False)] = 1.0
    return x / x.sum(axis=1, keepdims=True), y


def sequence_batch(rng, length: int, vocabulary: int, lengths: list[int], special):
    """Rows of `length + 1` ids right-padded with 0, split into (x, y) as the tasks do."""
    rows = np.zeros([BATCH, length + 1], np.int64)
    for row, used in enumerate(lengths):
        rows[row, :used] = rng.integers(1, vocabulary, used)
    for row, column, token in special:
        rows[row, column] = token
    return rows[:, :-1], rows[:, 1:]


def shakespeare_batch(rng):
    # bos 88 first, eos 89 last, oov 87 inside; one full row, three padded ones
    return sequence_batch(
        rng, 80, 90, [81, 50, 12, 1], [(0, 0, 88), (1, 0, 88), (1, 49, 89), (2, 5, 87)]
    )


def nwp_batch(rng):
    # bos 10002 first, eos 10003 after the last word, oov 10001 inside
    return sequence_batch(
        rng,
        20,
        10004,
        [21, 9, 5, 1],
        [(r, 0, 10002) for r in range(BATCH)]
        + [(1, 8, 10003), (2, 4, 10003), (1, 3, 10001), (0, 7, 10001)],
    )


def cifar_batch(rng):
    x = rng.normal(size=[BATCH, 24, 24, 3]).astype(np.float32)
    return x, rng.integers(0, 100, [BATCH]).astype(np.int64)


@dataclass(frozen=True)
class Baseline:
    builder: Callable  # () -> the TFF builder's Keras model
    loss: Callable  # () -> the task's Keras loss
    metrics: Callable  # () -> the task's Keras metrics
    batch: Callable  # rng -> (x, y) of the task's dtypes and shapes
    dropout: bool = False  # training=True draws different masks from Keras'

    @property
    def metric_names(self) -> list[str]:
        return [m.name for m in self.metrics()]


def sparse_ce():
    return tf.keras.losses.SparseCategoricalCrossentropy()


def accuracy():
    return [tf.keras.metrics.SparseCategoricalAccuracy()]


BASELINE_MODELS = {
    "emnist_cnn": Baseline(
        lambda: emnist_models().create_original_fedavg_cnn_model(only_digits=False),
        sparse_ce,
        accuracy,
        emnist_batch,
    ),
    "emnist_cnn_dropout": Baseline(
        lambda: emnist_models().create_conv_dropout_model(only_digits=False),
        sparse_ce,
        accuracy,
        emnist_batch,
        dropout=True,
    ),
    "emnist_2nn": Baseline(
        lambda: emnist_models().create_two_hidden_layer_model(only_digits=False),
        sparse_ce,
        accuracy,
        emnist_batch,
    ),
    "emnist_autoencoder": Baseline(
        lambda: emnist_models().create_autoencoder_model(),
        tf.keras.losses.MeanSquaredError,
        lambda: [
            tf.keras.metrics.MeanSquaredError(),
            tf.keras.metrics.MeanAbsoluteError(),
        ],
        autoencoder_batch,
    ),
    "stackoverflow_tag_lr": Baseline(
        lambda: __import__(
            "tensorflow_federated.python.simulation.baselines.stackoverflow.tag_prediction_tasks",
            fromlist=["_"],
        )._build_logistic_regression_model(10000, 500),
        lambda: tf.keras.losses.BinaryCrossentropy(
            from_logits=False, reduction=tf.keras.losses.Reduction.SUM
        ),
        lambda: [
            tf.keras.metrics.Precision(name="precision"),
            tf.keras.metrics.Recall(top_k=5, name="recall_at_5"),
        ],
        tag_batch,
    ),
    "shakespeare_char_rnn": Baseline(
        lambda: __import__(
            "tensorflow_federated.python.simulation.baselines.shakespeare.char_prediction_models",
            fromlist=["_"],
        ).create_recurrent_model(vocab_size=90, sequence_length=80),
        lambda: tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        lambda: [num_tokens(), masked_accuracy("accuracy", [0])],
        shakespeare_batch,
    ),
    "stackoverflow_nwp": Baseline(
        lambda: __import__(
            "tensorflow_federated.python.simulation.baselines.stackoverflow.word_prediction_models",
            fromlist=["_"],
        ).create_recurrent_model(vocab_size=10004),
        lambda: tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        lambda: [
            num_tokens(),
            masked_accuracy("accuracy", [0]),
            masked_accuracy("accuracy_without_out_of_vocab", [0, 10001]),
            masked_accuracy(
                "accuracy_without_out_of_vocab_or_end_of_sentence", [0, 10003, 10001]
            ),
        ],
        nwp_batch,
    ),
    "cifar100_resnet18_gn": Baseline(
        lambda: __import__(
            "tensorflow_federated.python.simulation.models.resnet_models",
            fromlist=["_"],
        ).create_resnet18(input_shape=(24, 24, 3), num_classes=100),
        sparse_ce,
        accuracy,
        cifar_batch,
    ),
}


def test_every_baseline_spec_is_tested():
    assert sorted(p.stem for p in BASELINES.glob("*.yaml")) == sorted(BASELINE_MODELS)


# Helpers ---------------------------------------------------------------------


def generated_module(tmp_path: Path, name: str):
    """Generate the spec's module into tmp_path and import it; skip if it cannot be generated."""
    try:
        generated = generate(BASELINES / f"{name}.yaml")
    except WrapgenError as error:
        first = str(error).strip().splitlines()[:3]
        pytest.skip(f"{name}.yaml does not generate yet: {' | '.join(first)}")
    path = tmp_path / f"{name}.py"
    path.write_text(generated.text, "utf-8")
    return import_module_file(path, f"baseline_{name}")


def keras_variable_model(baseline: Baseline, keras_model, input_spec):
    return tff.learning.models.from_keras_model(
        keras_model,
        loss=baseline.loss(),
        input_spec=input_spec,
        metrics=baseline.metrics(),
    )


def copy_weights(keras_model, model, rng) -> None:
    """Keras' weights, slightly perturbed (biases leave zero), into both models, one to one."""
    ours = list(model.weights.trainable) + list(model.weights.non_trainable)
    theirs = keras_model.weights
    assert len(model.weights.non_trainable) == len(keras_model.non_trainable_weights)
    assert [tuple(v.shape) for v in ours] == [tuple(w.shape) for w in theirs]
    for mine, keras_weight in zip(ours, theirs):
        value = keras_weight.numpy() + rng.normal(0.0, 0.01, keras_weight.shape)
        keras_weight.assign(value.astype(np.float32))
        mine.assign(keras_weight.numpy())


def loss_and_gradients(model, batch, training: bool):
    with tf.GradientTape() as tape:
        output = model.forward_pass(batch, training=training)
    gradients = tape.gradient(output.loss, model.trainable_variables)
    return output, [tf.convert_to_tensor(g).numpy() for g in gradients]


def finalized(model) -> collections.OrderedDict:
    """Metric values by name; a from_keras_model model's are its Keras metrics' results."""
    if hasattr(model, "get_metrics"):  # TFF's finalizers are meant for TFF computations
        return collections.OrderedDict(
            (metric.name, metric.result().numpy()) for metric in model.get_metrics()
        )
    unfinalized = model.report_local_unfinalized_metrics()
    finalizers = model.metric_finalizers()
    return collections.OrderedDict(
        (name, np.asarray(finalizers[name](value)))
        for name, value in unfinalized.items()
    )


def max_error(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def with_hits(keras_model, x, y, rng):
    """Integer labels with about half the non-pad ones set to the model's top class.

    Multi-hot labels get the top tag of every other example.

    With random weights a model almost never predicts the label, and an accuracy
    of 0 would not show which positions a metric counts.
    """
    scores = keras_model(x, training=False).numpy()
    if not np.issubdtype(y.dtype, np.integer):
        if not np.isin(y, [0.0, 1.0]).all():  # not multi-hot (the autoencoder's pixels)
            return y
        multi_hot = y.copy()  # the top tag of every other example becomes a true tag
        rows = np.arange(0, len(y), 2)
        multi_hot[rows, np.argmax(scores[rows], axis=-1)] = 1.0
        return multi_hot
    top = np.argmax(scores, axis=-1).astype(y.dtype)
    hit = (rng.uniform(size=y.shape) < 0.5) & (y != 0)
    return np.where(hit, top, y)


def client_datasets(x, y) -> list:
    half = BATCH // 2
    return [
        tf.data.Dataset.from_tensor_slices(
            collections.OrderedDict(x=x[i : i + half], y=y[i : i + half])
        ).batch(half)
        for i in (0, half)
    ]


# The tests -------------------------------------------------------------------


@pytest.mark.parametrize("name", list(BASELINE_MODELS))
def test_baseline_matches_tff_keras_model(tmp_path, name):
    started = time.perf_counter()
    baseline = BASELINE_MODELS[name]
    module = generated_module(tmp_path, name)
    rng = np.random.default_rng(0)
    keras_model = baseline.builder()
    model = module.model_fn()
    copy_weights(keras_model, model, rng)
    theirs = keras_variable_model(baseline, keras_model, module.INPUT_SPEC)
    x, y = baseline.batch(rng)
    y = with_hits(keras_model, x, y, rng)
    batch = collections.OrderedDict(x=tf.constant(x), y=tf.constant(y))
    errors = {}

    # Predictions, in evaluation mode.
    ours_predictions = model.predict_on_batch(batch["x"], training=False).numpy()
    their_predictions = theirs.predict_on_batch(batch["x"], training=False).numpy()
    assert ours_predictions.shape == their_predictions.shape
    np.testing.assert_allclose(ours_predictions, their_predictions, **TOLERANCE)
    errors["predictions"] = max_error(ours_predictions, their_predictions)

    # Training loss (regularization included) and its gradients. Dropout draws
    # other masks than Keras', so a dropout model is compared without it.
    training = not baseline.dropout
    ours_output, ours_gradients = loss_and_gradients(model, batch, training)
    their_output, their_gradients = loss_and_gradients(theirs, batch, training)
    np.testing.assert_allclose(ours_output.loss, their_output.loss, **TOLERANCE)
    errors["loss"] = max_error(ours_output.loss, their_output.loss)
    assert len(ours_gradients) == len(their_gradients)
    for index, (a, b) in enumerate(zip(ours_gradients, their_gradients)):
        np.testing.assert_allclose(a, b, err_msg=f"gradient {index}", **TOLERANCE)
    errors["gradients"] = max(map(max_error, ours_gradients, their_gradients))
    assert int(ours_output.num_examples) == BATCH

    # The task's metrics (then loss, num_examples, num_batches), as from_keras_model names them.
    ours_metrics, their_metrics = finalized(model), finalized(theirs)
    assert list(ours_metrics) == list(their_metrics)
    assert list(their_metrics)[: len(baseline.metric_names)] == baseline.metric_names
    for metric in their_metrics:
        np.testing.assert_allclose(
            ours_metrics[metric], their_metrics[metric], err_msg=metric, **TOLERANCE
        )
    errors["metrics"] = max(
        max_error(ours_metrics[m], their_metrics[m]) for m in their_metrics
    )

    if baseline.dropout:  # dropout is active when training
        with_dropout = model.predict_on_batch(batch["x"], training=True).numpy()
        assert not np.allclose(with_dropout, ours_predictions)
    values = {m: round(float(v), 4) for m, v in their_metrics.items()}
    print(f"{name}: max errors {errors}; metrics {values}")
    print(f"{name}: parity {time.perf_counter() - started:.1f} s")


SLOW = ("cifar100_resnet18_gn", "shakespeare_char_rnn", "stackoverflow_nwp")
"""Baselines whose FedAvg round and evaluation take over 20 s on 2 cores."""


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name
        for name in BASELINE_MODELS
    ],
)
def test_baseline_trains_with_fedavg_and_evaluates_like_the_keras_model(tmp_path, name):
    started = time.perf_counter()
    baseline = BASELINE_MODELS[name]
    module = generated_module(tmp_path, name)
    rng = np.random.default_rng(1)
    keras_model = baseline.builder()
    model = module.model_fn()
    copy_weights(keras_model, model, rng)
    x, y = baseline.batch(rng)
    clients = client_datasets(x, with_hits(keras_model, x, y, rng))
    weights = tff.learning.models.ModelWeights(
        trainable=[v.numpy() for v in model.trainable_variables],
        non_trainable=[v.numpy() for v in model.non_trainable_variables],
    )
    names = [*baseline.metric_names, "loss", "num_examples", "num_batches"]

    fed_avg = tff.learning.algorithms.build_weighted_fed_avg(
        module.model_fn,
        client_optimizer_fn=module.client_optimizer(),
        metrics_aggregator=module.metrics_aggregator,
    )
    state = fed_avg.set_model_weights(fed_avg.initialize(), weights)
    output = fed_avg.next(state, clients)
    train = output.metrics["client_work"]["train"]
    assert list(train) == names
    assert np.isfinite(train["loss"])
    assert train["num_examples"] == BATCH
    trained = fed_avg.get_model_weights(output.state).trainable
    assert any(not np.allclose(a, b) for a, b in zip(trained, weights.trainable))
    theirs = keras_variable_model(baseline, keras_model, module.INPUT_SPEC)
    if not baseline.dropout:
        # One local SGD step per client (one batch each) from the same weights, clients
        # weighted by examples, server SGD at 1.0: the round moves the weights by
        # -learning_rate * the mean of the Keras model's client gradients, and its
        # training metrics are the Keras model's on those batches.
        gradients = [
            loss_and_gradients(theirs, client_batch, training=True)[1]
            for dataset in clients
            for client_batch in dataset
        ]
        errors = []
        for index, (after, before, *client_gradients) in enumerate(
            zip(trained, weights.trainable, *gradients)
        ):
            expected = -module.LEARNING_RATE * np.mean(client_gradients, axis=0)
            np.testing.assert_allclose(
                after - before,
                expected,
                rtol=1e-3,
                atol=1e-6,
                err_msg=f"weight {index}",
            )
            errors.append(max_error(after - before, expected))
        expected_train = finalized(theirs)
        for metric in names:
            np.testing.assert_allclose(
                train[metric], expected_train[metric], err_msg=metric, **TOLERANCE
            )
        print(f"{name}: FedAvg update max error {max(errors):.2e}")
        theirs.reset_metrics()

    evaluation = tff.learning.algorithms.build_fed_eval(
        module.model_fn,
        metrics_aggregation_process=module.metrics_aggregation_process(),
    )
    eval_state = evaluation.set_model_weights(evaluation.initialize(), weights)
    current = evaluation.next(eval_state, clients).metrics["client_work"]["eval"][
        "current_round_metrics"
    ]
    assert list(current) == names
    # The same batches through the Keras model, metrics summed then finalized.
    for dataset in clients:
        for client_batch in dataset:
            theirs.forward_pass(client_batch, training=False)
    expected = finalized(theirs)
    for metric in names:
        np.testing.assert_allclose(
            current[metric], expected[metric], err_msg=metric, **TOLERANCE
        )
    print(f"{name}: FedAvg round and fed_eval {time.perf_counter() - started:.1f} s")


@pytest.mark.parametrize("name", list(BASELINE_MODELS))
def test_baseline_starts_from_the_builders_distributions(tmp_path, name):
    """Each initial weight has the Keras builder's constant, or its mean and spread."""
    module = generated_module(tmp_path, name)
    ours = [v.numpy() for v in module.model_fn().weights.trainable]
    theirs = [w.numpy() for w in BASELINE_MODELS[name].builder().weights]
    assert [a.shape for a in ours] == [b.shape for b in theirs]
    for index, (mine, keras) in enumerate(zip(ours, theirs)):
        message = f"{name} weight {index} {list(keras.shape)}"
        if keras.std() == 0 or np.isin(keras, (0.0, 1.0)).all():
            # constants, and an LSTM bias: zeros with ones in the forget gate's block
            np.testing.assert_array_equal(mine, keras, err_msg=message)
        else:
            spread = 0.1 if keras.size >= 2000 else 0.25
            assert mine.std() == pytest.approx(keras.std(), rel=spread), message
            assert abs(mine.mean() - keras.mean()) < spread * keras.std(), message
            assert abs(mine).max() <= abs(keras).max() * (1 + spread), message


@pytest.mark.parametrize("name", ["emnist_2nn", "stackoverflow_tag_lr"])
def test_saturated_probability_loss_matches_in_a_tf_function(tmp_path, name):
    baseline = BASELINE_MODELS[name]
    module = generated_module(tmp_path, name)
    rng = np.random.default_rng(2)
    keras_model = baseline.builder()
    model = module.model_fn()
    copy_weights(keras_model, model, rng)
    for mine, keras_weight in zip(model.trainable_variables, keras_model.weights):
        keras_weight.assign(keras_weight * 3000.0)  # probabilities of 0 and 1
        mine.assign(keras_weight)
    theirs = keras_variable_model(baseline, keras_model, module.INPUT_SPEC)
    x, y = baseline.batch(rng)
    batch = collections.OrderedDict(x=tf.constant(x), y=tf.constant(y))

    @tf.function
    def our_loss(batch):
        return model.forward_pass(batch, training=False).loss

    their_loss = float(theirs.forward_pass(batch, training=False).loss)
    assert their_loss > 10.0  # saturated: clipped terms
    np.testing.assert_allclose(float(our_loss(batch)), their_loss, **TOLERANCE)


# wrapgen init --from-keras --layers ----------------------------------------------


def _structure(spec) -> tuple[list, list]:
    """A spec's variables and layers with names replaced by positions and seeds dropped:
    what must agree between two specs of the same model."""
    index = {
        variable.name: position for position, variable in enumerate(spec.variables)
    }

    def initializer(choice):
        return choice.kind, {k: v for k, v in choice.params.items() if k != "seed"}

    def layer(choice):
        params = {}
        for key, value in choice.params.items():
            if key == "seed":
                continue
            if isinstance(value, tuple) and value and hasattr(value[0], "kind"):
                value = [layer(item) for item in value]
            elif isinstance(value, str) and value in index:
                value = f"variable {index[value]}"
            params[key] = value
        return choice.kind, params

    variables = [
        (v.shape, v.dtype, v.trainable, v.l2, initializer(v.initializer))
        for v in spec.variables
    ]
    return variables, [layer(choice) for choice in spec.forward.layers]


@pytest.mark.parametrize("name", list(BASELINE_MODELS))
def test_init_layers_writes_each_baseline_model(tmp_path, name, monkeypatch):
    """`wrapgen init --from-keras BUILDER --layers` on the TFF builder writes the
    committed baseline's model: the same variables, in the same order, with the
    same initializers and L2, and the same layers and residual blocks."""
    from typer.testing import CliRunner

    from codegen.cli import app

    builders = f"tff_builders_{name}"
    (tmp_path / f"{builders}.py").write_text(
        "from tests.test_baselines import BASELINE_MODELS\n\n\n"
        f"def build():\n    return BASELINE_MODELS[{name!r}].builder()\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(EXAMPLES.parent))
    result = CliRunner().invoke(
        app, ["init", "from_tff", "--from-keras", f"{builders}:build", "--layers"]
    )
    assert result.exit_code == 0, result.output
    written = generate(tmp_path / "from_tff.yaml").spec
    committed = generate(BASELINES / f"{name}.yaml").spec
    ours_variables, ours_layers = _structure(written)
    their_variables, their_layers = _structure(committed)
    assert ours_variables == their_variables
    assert ours_layers == their_layers
