"""share of labels among the k top-scored classes

Keras' `SparseTopKCategoricalAccuracy(k)`: a hit when the label's score is
among the `k` largest of its row (`tf.math.in_top_k`: classes tied with the
k-th score all count as in the top k). With class scores per position (a
label [null, steps] against predictions [null, steps, classes]) every
position counts once, as Keras flattens them. Scores are compared as float32,
as Keras' `in_top_k` kernel does; with `k` at least the number of classes
every label in range is a hit.
"""

from codegen.catalogue.base import Param
from codegen.catalogue.metrics import CLASSES, MEAN_PARAMS, PROBE, REGRESSION
from codegen.catalogue.metrics.sparse_categorical_accuracy import (
    PER_POSITION,
    settings,
)

PARAMS = (*MEAN_PARAMS, ("k", Param("positive_int", 5)))


def problem(loss, label, forward, params):
    if loss.kind != "sparse_categorical_crossentropy":
        return f"expected the sparse_categorical_crossentropy loss (integer class labels), found {loss.kind}"
    return None


def data(metric, spec):
    return {"k": settings(metric, PARAMS)["k"]}


VALID = (
    PROBE.format(metric="{top_k_accuracy: {k: 2}}", **CLASSES),
    PER_POSITION % "{top_k_accuracy: {k: 3, aggregation: min}}",
)
INVALID = (
    (
        PROBE.format(metric="top_k_accuracy", **REGRESSION),
        "metrics.m.top_k_accuracy: expected the sparse_categorical_crossentropy loss (integer class labels), found mean_squared_error",
    ),
    (
        PROBE.format(metric="{top_k_accuracy: {k: 0}}", **CLASSES),
        "metrics.m.top_k_accuracy.k: expected a positive integer, found 0",
    ),
)
