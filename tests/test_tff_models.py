"""Generated modules trained with real TensorFlow Federated 0.87 (no mocks)."""

from __future__ import annotations

import collections
import math
import os
import subprocess
import sys

import hypothesis
import numpy as np
import pytest
from conftest import EXAMPLE_NAMES, EXAMPLES, ROOT
from spec_strategies import dump, valid_specs

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
tf = pytest.importorskip("tensorflow")
tff = pytest.importorskip("tensorflow_federated")

from codegen import generate  # noqa: E402
from codegen.synthetic import make_client_data  # noqa: E402
from codegen.train import build_fed_avg, import_module_file, output_width, to_datasets  # noqa: E402

pytestmark = pytest.mark.tff


def load(name: str):
    return import_module_file(EXAMPLES / f"{name}.py", f"example_{name}")


def client_data(name: str, module, clients: int = 3, examples: int = 64, seed: int = 0):
    spec = generate(EXAMPLES / f"{name}.yaml").spec
    return to_datasets(
        make_client_data(spec, clients, examples, seed, output_width(module))
    )


def train_metrics(result):
    return result.metrics["client_work"]["train"]


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_fed_avg_and_fed_eval_give_finite_metrics_under_declared_names(name):
    module = load(name)
    data = client_data(name, module)
    process = build_fed_avg(module)
    state = process.initialize()
    for _ in range(2):
        result = process.next(state, data)
        state = result.state
        metrics = train_metrics(result)
        assert tuple(metrics) == module.METRIC_NAMES
        assert all(math.isfinite(float(v)) for v in metrics.values())
    evaluation = tff.learning.algorithms.build_fed_eval(module.model_fn)
    eval_state = evaluation.set_model_weights(
        evaluation.initialize(), process.get_model_weights(state)
    )
    eval_metrics = evaluation.next(eval_state, data).metrics["client_work"]["eval"][
        "current_round_metrics"
    ]
    assert set(eval_metrics) == set(module.METRIC_NAMES)
    assert all(math.isfinite(float(v)) for v in eval_metrics.values())


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_loss_falls_over_five_rounds_on_learnable_data(name):
    module = load(name)
    data = client_data(name, module, clients=4, examples=128)
    process = build_fed_avg(module)
    state = process.initialize()
    losses = []
    for _ in range(5):
        result = process.next(state, data)
        state = result.state
        losses.append(float(train_metrics(result)["loss"]))
    assert losses[-1] < losses[0], losses


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_save_and_load_round_trip(name, tmp_path):
    module = load(name)
    model = module.model_fn()
    tff.learning.models.save(model, str(tmp_path / "saved"))
    loaded = tff.learning.models.load(str(tmp_path / "saved"))
    batch = next(iter(client_data(name, module, clients=1, examples=8)[0]))
    expected = model.predict_on_batch(batch["x"], training=False)
    actual = loaded.predict_on_batch(batch["x"], training=False)
    np.testing.assert_allclose(actual.numpy(), expected.numpy(), atol=1e-6)
    assert [v.shape for v in loaded.trainable_variables] == [
        v.shape for v in model.trainable_variables
    ]


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_fed_sgd_and_unweighted_fed_avg_accept_the_model(name):
    module = load(name)
    data = client_data(name, module, clients=2, examples=32)
    for process in (
        tff.learning.algorithms.build_fed_sgd(
            module.model_fn, metrics_aggregator=module.metrics_aggregator
        ),
        tff.learning.algorithms.build_unweighted_fed_avg(
            module.model_fn,
            client_optimizer_fn=module.client_optimizer(),
            metrics_aggregator=module.metrics_aggregator,
        ),
    ):
        result = process.next(process.initialize(), data)
        assert math.isfinite(float(train_metrics(result)["loss"]))


def test_max_and_min_metrics_are_aggregated_across_clients():
    module = load("bag_of_words")
    data = client_data("bag_of_words", module, clients=3, examples=40)
    data[2] = data[2].take(1)  # one small client: 32 examples
    metrics = train_metrics(
        build_fed_avg(module).next(build_fed_avg(module).initialize(), data)
    )
    assert metrics["largest_client"] == 40
    assert metrics["num_examples"] == 40 + 40 + 32
    assert (
        metrics["worst_client_loss"] >= metrics["loss"] >= metrics["best_client_loss"]
    )
    assert metrics["worst_client_loss"] > metrics["best_client_loss"]


def test_parity_with_from_keras_model():
    module = load("mnist_logistic")
    data = client_data("mnist_logistic", module, clients=4, examples=100, seed=3)

    def keras_model_fn():
        keras_model = tf.keras.Sequential(
            [
                tf.keras.layers.Dense(
                    10,
                    activation="softmax",
                    kernel_initializer="zeros",
                    input_shape=(784,),
                )
            ]
        )
        return tff.learning.models.from_keras_model(
            keras_model,
            input_spec=data[0].element_spec,
            loss=tf.keras.losses.SparseCategoricalCrossentropy(),
            metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )

    def build(model_fn):
        return tff.learning.algorithms.build_weighted_fed_avg(
            model_fn,
            client_optimizer_fn=tff.learning.optimizers.build_sgdm(learning_rate=0.1),
            server_optimizer_fn=tff.learning.optimizers.build_sgdm(learning_rate=1.0),
        )

    ours, theirs = build(module.model_fn), build(keras_model_fn)
    our_state, their_state = ours.initialize(), theirs.initialize()
    for _ in range(3):
        our_result, their_result = (
            ours.next(our_state, data),
            theirs.next(their_state, data),
        )
        our_state, their_state = our_result.state, their_result.state
        for name in ("loss", "accuracy"):
            assert train_metrics(our_result)[name] == pytest.approx(
                train_metrics(their_result)[name], abs=1e-4
            )
    for a, b in zip(
        ours.get_model_weights(our_state).trainable,
        theirs.get_model_weights(their_state).trainable,
    ):
        np.testing.assert_allclose(a, b, atol=1e-5)


def _local_outputs(module, datasets):
    """report_local_outputs of one fresh model per client after a forward pass over its data."""
    outputs = []
    for dataset in datasets:
        model = module.model_fn()
        for batch in dataset:
            model.forward_pass(batch, training=False)
        outputs.append(
            collections.OrderedDict(
                (k, v.numpy()) for k, v in model.report_local_outputs().items()
            )
        )
    return outputs


def test_classic_federated_output_computation_gives_example_weighted_means():
    module = load("linear_regression")
    datasets = client_data("linear_regression", module, clients=3, examples=50)
    datasets[1] = datasets[1].take(1)  # 32 examples on the second client
    outputs = _local_outputs(module, datasets)
    aggregated = module.model_fn().federated_output_computation(outputs)
    weights = np.array([o["num_examples"] for o in outputs], dtype=np.float64)
    assert list(weights) == [50, 32, 50]
    for name in ("loss", "mse", "mae"):
        expected = (
            np.sum(weights * np.array([o[name] for o in outputs])) / weights.sum()
        )
        assert aggregated[name] == pytest.approx(expected, rel=1e-5)
    assert aggregated["num_examples"] == 132
    assert aggregated["num_batches"] == sum(o["num_batches"] for o in outputs)


@pytest.mark.parametrize(
    "name", ["mnist_logistic", "linear_regression", "mnist_cnn", "keras_mlp"]
)
def test_classic_client_loop_with_train_on_batch_changes_only_trainable_variables(name):
    module = load(name)
    dataset = client_data(name, module, clients=1, examples=96)[0]

    @tff.tensorflow.computation(
        tff.SequenceType(tff.types.tensorflow_to_type(dataset.element_spec))
    )
    def client_loop(data):
        model = module.model_fn()

        def total_loss(step):
            return data.reduce(0.0, lambda total, batch: total + step(batch).loss)

        weights = model.trainable_variables + model.non_trainable_variables
        before = [tf.identity(v) for v in weights]
        with tf.control_dependencies(before):
            first = total_loss(lambda batch: model.forward_pass(batch, training=False))
        done = first
        for _ in range(
            3
        ):  # the graph runs only what the result depends on: chain each epoch
            with tf.control_dependencies([done]):
                done = total_loss(model.train_on_batch)
        with tf.control_dependencies([done]):
            last = total_loss(lambda batch: model.forward_pass(batch, training=False))
        with tf.control_dependencies([last]):
            after = [tf.identity(v) for v in weights]
        return first, last, before, after

    first, last, before, after = client_loop(dataset)
    assert last < first
    trainable = len(module.model_fn().trainable_variables)
    assert any(
        not np.allclose(a, b) for a, b in zip(before[:trainable], after[:trainable])
    )
    for a, b in zip(before[trainable:], after[trainable:]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_forward_pass_without_training_changes_no_weight(name):
    module = load(name)
    model = module.model_fn()
    batch = next(iter(client_data(name, module, clients=1, examples=16)[0]))
    before = [
        v.numpy().copy()
        for v in model.trainable_variables + model.non_trainable_variables
    ]
    output = model.forward_pass(batch, training=False)
    assert int(output.num_examples) == 16 and output.predictions.shape[0] == 16
    for old, variable in zip(
        before, model.trainable_variables + model.non_trainable_variables
    ):
        np.testing.assert_array_equal(old, variable.numpy())


def test_model_fn_returns_a_new_model_and_checks_batches():
    module = load("mnist_logistic")
    first, second = module.model_fn(), module.model_fn()
    assert (
        first is not second
        and first.trainable_variables[0] is not second.trainable_variables[0]
    )
    bad = collections.OrderedDict(x=tf.zeros([4, 783]), y=tf.zeros([4, 1], tf.int32))
    with pytest.raises(
        ValueError,
        match=r"input 'x' \(batch key 'x'\) expected float32 \(None, 784\), got float32 \(4, 783\)",
    ):
        first.forward_pass(bad)
    with pytest.raises(ValueError, match="keys"):
        first.forward_pass({"x": tf.zeros([4, 784])})


def test_keras_wrapper_checks_the_builder_inputs(monkeypatch):
    module = load("keras_mlp")

    def wrong_builder():
        inputs = tf.keras.Input(shape=(100,), name="x")
        return tf.keras.Model(inputs, tf.keras.layers.Dense(10)(inputs))

    monkeypatch.setattr(module, "_build_keras_model", wrong_builder)
    with pytest.raises(ValueError, match="the spec declares float32 \\(None, 784\\)"):
        module.model_fn()


def _linear_clients(clients: int, examples: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    true_a, true_b = np.array([[2.0], [-1.0]], np.float32), 0.5
    data = []
    for _ in range(clients):
        x = rng.normal(size=(examples, 2)).astype(np.float32)
        y = (x @ true_a + true_b).astype(np.float32)
        data.append(
            tf.data.Dataset.from_tensor_slices(collections.OrderedDict(x=x, y=y)).batch(
                16
            )
        )
    return data


def test_handwritten_model_that_verifies_clean_trains_with_fed_avg_and_fed_eval():
    from codegen.verify import verify_file

    path = ROOT / "tests" / "handwritten" / "linear_regression.py"
    assert verify_file(path) == []
    module = import_module_file(path, "handwritten_linear_regression")
    data = _linear_clients(clients=3, examples=64)
    process = tff.learning.algorithms.build_weighted_fed_avg(
        module.model_fn,
        client_optimizer_fn=tff.learning.optimizers.build_sgdm(learning_rate=0.1),
    )
    state = process.initialize()
    losses = []
    for _ in range(5):
        result = process.next(state, data)
        state = result.state
        losses.append(float(train_metrics(result)["loss"]))
    assert losses[-1] < 0.5 * losses[0], losses
    assert int(train_metrics(result)["num_examples"]) == 3 * 64
    evaluation = tff.learning.algorithms.build_fed_eval(module.model_fn)
    eval_state = evaluation.set_model_weights(
        evaluation.initialize(), process.get_model_weights(state)
    )
    eval_metrics = evaluation.next(eval_state, data).metrics["client_work"]["eval"][
        "current_round_metrics"
    ]
    assert float(eval_metrics["loss"]) < losses[0]
    # The classic members work too: train_on_batch, then the federated aggregation.
    model = module.model_fn()
    for batch in data[0]:
        model.train_on_batch(batch)
    assert float(model.non_trainable_variables[0].numpy()) == 1.0
    outputs = model.report_local_outputs()
    aggregated = model.federated_output_computation([outputs, outputs])
    assert int(aggregated["num_examples"]) == 2 * 64
    assert math.isclose(float(aggregated["loss"]), float(outputs["loss"]), rel_tol=1e-6)


@hypothesis.settings(max_examples=6, deadline=None, derandomize=True, database=None)
@hypothesis.given(spec=valid_specs())
def test_sampled_valid_specs_train_one_fed_avg_round(spec, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sampled")
    (folder / "spec.yaml").write_bytes(dump(spec))
    generated = generate(folder / "spec.yaml", folder / "sampled_model.py")
    (folder / "sampled_model.py").write_text(generated.text, "utf-8")
    module = import_module_file(folder / "sampled_model.py", f"sampled_{folder.name}")
    data = to_datasets(make_client_data(generated.spec, 2, 32, 0, output_width(module)))
    process = build_fed_avg(module)
    result = process.next(process.initialize(), data)
    metrics = train_metrics(result)
    assert tuple(metrics) == module.METRIC_NAMES
    assert int(metrics["num_examples"]) == 64
    assert all(math.isfinite(float(v)) for v in metrics.values())


def test_init_from_keras_writes_a_spec_whose_module_trains(tmp_path):
    import shutil

    shutil.copy(EXAMPLES / "keras_builders.py", tmp_path)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "codegen",
            "init",
            "wrapped_mlp",
            "--from-keras",
            "keras_builders:build_mlp",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    spec_text = (tmp_path / "wrapped_mlp.yaml").read_text("utf-8")
    assert "x: {dtype: float32, shape: [null, 784]}" in spec_text
    assert "loss: sparse_categorical_crossentropy" in spec_text and "TODO" in spec_text
    generated = generate(tmp_path / "wrapped_mlp.yaml")
    (tmp_path / "wrapped_mlp.py").write_text(generated.text, "utf-8")
    module = import_module_file(tmp_path / "wrapped_mlp.py", "wrapped_mlp_from_keras")
    data = to_datasets(make_client_data(generated.spec, 2, 32, 0, output_width(module)))
    process = build_fed_avg(module)
    state = process.initialize()
    losses = []
    for _ in range(3):
        result = process.next(state, data)
        state = result.state
        losses.append(float(train_metrics(result)["loss"]))
    assert losses[-1] < losses[0], losses
