"""share of examples (or of unmasked positions) whose top class is the label

Keras' `SparseCategoricalAccuracy`, as TFF's `from_keras_model` reports it.
With class scores per position (a label [null, steps] against predictions
[null, steps, classes]) every position counts once. Positions whose label is
one of `masked_ids` (padding, end of sentence, out of vocabulary) count for
nothing: the accuracy is then TFF's `MaskedCategoricalAccuracy` (total =
hits on unmasked positions, count = unmasked positions). Ids the label's
dtype cannot hold never match and are left out.
"""

from codegen.catalogue.base import INT_RANGES, Param
from codegen.catalogue.metrics import CLASSES, MEAN_PARAMS, PROBE, REGRESSION

PARAMS = (*MEAN_PARAMS, ("masked_ids", Param("ids", (), later=True)))

PER_POSITION = """
inputs:
  x: {dtype: int32, shape: [null, 5]}
  y: {dtype: int64, shape: [null, 5]}
variables:
  table: {shape: [10, 4], initializer: zeros}
  k: {shape: [4, 10], initializer: zeros}
forward: {layers: [{embedding: {table: table}}, {dense: {kernel: k}}]}
loss: {sparse_categorical_crossentropy: {from_logits: true}}
metrics: {m: %s, num_examples: num_examples}
"""
"""A spec fragment: metric `m` on class scores [null, 5, 10] against a label [null, 5]."""


def settings(metric, params) -> dict:
    """The metric's parameters, defaults filled in (`params`: its module's PARAMS)."""
    given = getattr(metric, "params", None) or {}
    return {name: given.get(name, param.default) for name, param in params}


def held_ids(ids, dtype: str) -> list[int]:
    """The ids a label of integer `dtype` can hold (no other id can match it)."""
    return [int(i) for i in ids if INT_RANGES[dtype][0] <= i <= INT_RANGES[dtype][1]]


def per_position(spec) -> bool:
    """Whether the label holds one class id per position (not one per example).

    A layer stack scores every position when its output has one more axis
    than a label of rank 2 or more (the loss's rule); a label [null] or
    [null, 1] otherwise holds one class id per example.
    """
    label = spec.label_input
    output = getattr(spec.forward, "output_shape", None)
    if output is not None:
        return len(label.shape) >= 2 and len(output) == len(label.shape) + 1
    return label.shape[1:] not in ((), (1,))


def problem(loss, label, forward, params):
    if loss.kind != "sparse_categorical_crossentropy":
        return f"expected the sparse_categorical_crossentropy loss (integer class labels), found {loss.kind}"
    return None


def data(metric, spec):
    values = settings(metric, PARAMS)
    return {
        "masked_ids": held_ids(values["masked_ids"], spec.label_input.dtype),
        "per_position": per_position(spec),
    }


VALID = (
    PROBE.format(metric="sparse_categorical_accuracy", **CLASSES),
    PROBE.format(
        metric="{sparse_categorical_accuracy: {masked_ids: [0, 2]}}", **CLASSES
    ),
    PER_POSITION % "sparse_categorical_accuracy",
    PER_POSITION % "{sparse_categorical_accuracy: {masked_ids: [0, 9]}}",
)
INVALID = (
    (
        PROBE.format(metric="sparse_categorical_accuracy", **REGRESSION),
        "metrics.m.sparse_categorical_accuracy: expected the sparse_categorical_crossentropy loss (integer class labels), found mean_squared_error",
    ),
    (
        PROBE.format(
            metric="{sparse_categorical_accuracy: {masked_ids: [0, 0]}}", **CLASSES
        ),
        "metrics.m.sparse_categorical_accuracy.masked_ids[1]: expected distinct ids, found 0 again",
    ),
    (
        PROBE.format(
            metric="{sparse_categorical_accuracy: {masked_ids: [-1]}}", **CLASSES
        ),
        "metrics.m.sparse_categorical_accuracy.masked_ids[0]: expected an integer from 0 to 9223372036854775807 (an int64), found -1",
    ),
)
