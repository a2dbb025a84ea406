"""Generated metrics give what Keras' and TFF's metric objects give on the same data.

Each test generates a module from a spec, runs `forward_pass` on a few
batches and compares the metric accumulators (the unfinalized metrics) and
the finalized values with Keras' `Precision`, `Recall`,
`SparseTopKCategoricalAccuracy` and `SparseCategoricalAccuracy`, and with the
`MaskedCategoricalAccuracy` and `NumTokensCounter` of TFF's baselines
(`tensorflow_federated.python.simulation.baselines.keras_metrics`), updated
on the same labels and predictions.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
tf = pytest.importorskip("tensorflow")
tff = pytest.importorskip("tensorflow_federated")

from tensorflow_federated.python.simulation.baselines import (  # noqa: E402
    keras_metrics,
)

from codegen import generate  # noqa: E402
from codegen.catalogue import METRICS  # noqa: E402
from codegen.catalogue.metrics import precision  # noqa: E402
from codegen.train import import_module_file  # noqa: E402

pytestmark = pytest.mark.tff

TOLERANCE = 1e-6


def module_from_spec(tmp_path: Path, name: str, text: str):
    """Write a spec, generate its module, import it."""
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(textwrap.dedent(text))
    path = tmp_path / f"{name}.py"
    path.write_text(generate(spec).text)
    return import_module_file(path, f"parity_{name}")


def state(metric) -> list[float]:
    """A Keras metric's variables (its unfinalized state), as floats."""
    return [float(v.numpy()) for v in metric.variables]


def close(ours, theirs) -> bool:
    return np.allclose(
        np.asarray(ours, np.float64),
        np.asarray(theirs, np.float64),
        rtol=0,
        atol=TOLERANCE,
    )


# Class ids per position: masked accuracy, token counts, top-k accuracy --------

SEQUENCE_SPEC = """\
    wrapgen: 1
    model: {name: Tokens, description: Per-position class scores over 12 ids.}
    inputs:
      x: {dtype: int64, shape: [null, 7]}
      y: {dtype: int64, shape: [null, 7]}
    label: y
    variables:
      table: {shape: [12, 6], initializer: {random_normal: {stddev: 1.0, seed: 1}}}
      kernel: {shape: [6, 12], initializer: {glorot_uniform: {seed: 2}}}
    forward:
      layers:
        - embedding: {table: table}
        - dense: {kernel: kernel}
    loss: {sparse_categorical_crossentropy: {from_logits: true}}
    metrics:
      masked_accuracy: {sparse_categorical_accuracy: {masked_ids: [0, 11, 10]}}
      accuracy: sparse_categorical_accuracy
      num_tokens: {num_tokens: {masked_ids: [0, 11, 10]}}
      all_tokens: num_tokens
      top_3: {top_k_accuracy: {k: 3}}
      top_20: {top_k_accuracy: {k: 20}}
      num_examples: num_examples
    training:
      optimizer: {sgd: {learning_rate: 0.1}}
"""

MASKED = [0, 11, 10]


def _sequence_batches(seed: int = 7):
    rng = np.random.default_rng(seed)
    for size in (5, 3):
        x = rng.integers(0, 12, size=(size, 7))
        y = rng.integers(0, 12, size=(size, 7))
        y[0, 4:] = 0  # padding
        y[-1, -1] = 11
        yield {"x": tf.constant(x, tf.int64), "y": tf.constant(y, tf.int64)}


def test_per_position_metrics_match_tff_and_keras(tmp_path):
    module = module_from_spec(tmp_path, "tokens", SEQUENCE_SPEC)
    model = module.model_fn()
    theirs = {
        "masked_accuracy": keras_metrics.MaskedCategoricalAccuracy(MASKED),
        "accuracy": tf.keras.metrics.SparseCategoricalAccuracy(),
        "num_tokens": keras_metrics.NumTokensCounter(MASKED),
        "all_tokens": keras_metrics.NumTokensCounter(),
        "top_3": tf.keras.metrics.SparseTopKCategoricalAccuracy(k=3),
        "top_20": tf.keras.metrics.SparseTopKCategoricalAccuracy(k=20),
    }
    for batch in _sequence_batches():
        predictions = model.forward_pass(batch, training=False).predictions
        assert predictions.shape[1:] == (7, 12)
        for metric in theirs.values():
            metric.update_state(batch["y"], predictions)
    unfinalized = model.report_local_unfinalized_metrics()
    outputs = model.report_local_outputs()
    for name, metric in theirs.items():
        ours = unfinalized[name]
        assert close(np.ravel(ours), state(metric)), (name, ours, state(metric))
        assert close(outputs[name], metric.result()), name
    assert unfinalized["num_tokens"].dtype == tf.int64
    # The mask really removed something, and left hits to count.
    assert 0 < int(unfinalized["num_tokens"]) < int(unfinalized["all_tokens"]) == 56
    assert float(unfinalized["masked_accuracy"][1]) == int(unfinalized["num_tokens"])
    assert 0 < float(outputs["top_3"]) < 1 and float(outputs["top_20"]) == 1.0


# One class id per example, masked ---------------------------------------------

EXAMPLE_SPEC = """\
    wrapgen: 1
    model: {name: Classes, description: Five class scores per example.}
    inputs:
      x: {dtype: float32, shape: [null, 4]}
      y: {dtype: int32, shape: [null, 1]}
    label: y
    variables:
      kernel: {shape: [4, 5], initializer: {glorot_uniform: {seed: 3}}}
    forward:
      layers:
        - dense: {kernel: kernel}
        - softmax
    loss: sparse_categorical_crossentropy
    metrics:
      accuracy: {sparse_categorical_accuracy: {masked_ids: [4, 9999999999]}}
      plain: sparse_categorical_accuracy
      tokens: {num_tokens: {masked_ids: [4]}}
      top_2: {top_k_accuracy: {k: 2, aggregation: max}}
      num_examples: num_examples
    training:
      optimizer: {sgd: {learning_rate: 0.1}}
"""


def test_per_example_metrics_match_tff_and_keras(tmp_path):
    module = module_from_spec(tmp_path, "classes", EXAMPLE_SPEC)
    model = module.model_fn()
    theirs = {
        "accuracy": keras_metrics.MaskedCategoricalAccuracy([4]),
        "plain": tf.keras.metrics.SparseCategoricalAccuracy(),
        "tokens": keras_metrics.NumTokensCounter([4]),
        "top_2": tf.keras.metrics.SparseTopKCategoricalAccuracy(k=2),
    }
    rng = np.random.default_rng(3)
    for size in (9, 6):
        batch = {
            "x": tf.constant(rng.normal(size=(size, 4)), tf.float32),
            "y": tf.constant(rng.integers(0, 5, size=(size, 1)), tf.int32),
        }
        predictions = model.forward_pass(batch, training=False).predictions
        for metric in theirs.values():
            metric.update_state(batch["y"], predictions)
    unfinalized = model.report_local_unfinalized_metrics()
    outputs = model.report_local_outputs()
    for name, metric in theirs.items():
        assert close(np.ravel(unfinalized[name]), state(metric)), name
        assert close(outputs[name], metric.result()), name
    assert 0 < int(unfinalized["tokens"]) < 15


# 0/1 (multi-hot) labels: precision and recall ---------------------------------

TAGS_SPEC = """\
    wrapgen: 1
    model: {{name: Tags, description: Ten independent tag probabilities.}}
    inputs:
      x: {{dtype: float32, shape: [null, 8]}}
      y: {{dtype: {label_dtype}, shape: [null, 10]}}
    label: y
    variables:
      kernel: {{shape: [8, 10], initializer: {{glorot_uniform: {{seed: 4}}}}}}
    forward:
      layers:
        - dense: {{kernel: kernel}}
{sigmoid}
    loss: {loss}
    metrics:
      precision: precision
      precision_at_3: {{precision: {{top_k: 3}}}}
      precision_both: {{precision: {{top_k: 2, threshold: 0.3}}}}
      recall: {{recall: {{threshold: 0.6}}}}
      recall_at_5: {{recall: {{top_k: 5}}}}
      num_examples: num_examples
    training:
      optimizer: {{sgd: {{learning_rate: 0.1}}}}
"""


@pytest.mark.parametrize(
    "from_logits,label_dtype",
    [(False, "float32"), (True, "float32"), (False, "int32")],
    ids=["probabilities", "logits", "integer-labels"],
)
def test_precision_and_recall_match_keras(tmp_path, from_logits, label_dtype):
    """Keras' Precision and Recall, with and without top_k and threshold; the
    Stack Overflow tag task's Precision() and Recall(top_k=5) among them. With
    logits, Keras is fed the sigmoid of the predictions."""
    text = TAGS_SPEC.format(
        label_dtype=label_dtype,
        sigmoid="" if from_logits else "        - sigmoid",
        loss="{binary_crossentropy: {from_logits: true}}"
        if from_logits
        else "binary_crossentropy",
    )
    module = module_from_spec(tmp_path, f"tags_{from_logits}_{label_dtype}", text)
    model = module.model_fn()
    theirs = {
        "precision": tf.keras.metrics.Precision(),
        "precision_at_3": tf.keras.metrics.Precision(top_k=3),
        "precision_both": tf.keras.metrics.Precision(thresholds=0.3, top_k=2),
        "recall": tf.keras.metrics.Recall(thresholds=0.6),
        "recall_at_5": tf.keras.metrics.Recall(top_k=5),
    }
    rng = np.random.default_rng(5)
    batches = []
    for size in (12, 7):
        x = rng.normal(size=(size, 8)) * 2.0
        # Integer labels: any nonzero entry is positive, as Keras casts to bool.
        y = (rng.random(size=(size, 10)) < 0.3) * rng.integers(1, 3, size=(size, 10))
        batches.append((x, y))
    for index, (x, y) in enumerate(batches + batches[:1]):
        if index == 2:
            # Every probability 0.5: top-k ties go to the lower index, and
            # 0.5 is not above the 0.5 threshold.
            model.trainable_variables[0].assign(tf.zeros([8, 10]))
        batch = {
            "x": tf.constant(x, tf.float32),
            "y": tf.constant(y, getattr(tf, label_dtype)),
        }
        predictions = model.forward_pass(batch, training=False).predictions
        if from_logits:
            predictions = tf.math.sigmoid(predictions)
        for metric in theirs.values():
            metric.update_state(batch["y"], predictions)
    unfinalized = model.report_local_unfinalized_metrics()
    outputs = model.report_local_outputs()
    for name, metric in theirs.items():
        tp, other = state(metric)  # [tp, fp] or [tp, fn]
        ours = np.ravel(unfinalized[name])
        assert close(ours, [tp, tp + other]), (name, ours, [tp, other])
        assert close(outputs[name], metric.result()), name
        assert 0 < outputs[name] < 1, name
    # With top_k (and no threshold) each row has exactly k predicted positives.
    assert float(unfinalized["precision_at_3"][1]) == 3 * (12 + 7 + 12)


def test_top_k_checks_when_given_the_metric_params():
    """`problem` rejects a top_k larger than the label's last axis, or a rank-1 label."""
    from codegen.spec import Choice, Input

    loss = Choice.of("binary_crossentropy", {}, None)
    label = Input("y", "float32", (None, 4), None)
    assert precision.problem(loss, label, None, {"top_k": 4}) is None
    assert (
        precision.problem(loss, label, None, {"top_k": 5})
        == "expected top_k at most 4, the label's last dimension (the top k of each row are taken along it), found 5"
    )
    flat = Input("y", "float32", (None,), None)
    assert "rank 2 or more" in precision.problem(loss, flat, None, {"top_k": 1})
    assert METRICS["recall"].hook("problem")(loss, label, None, {"top_k": 5})
