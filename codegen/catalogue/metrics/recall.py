"""share of labelled positives that are predicted positive, over all entries

Keras' `Recall(thresholds, top_k)` on 0/1 (multi-hot) labels, counted as
`precision` counts (see there: every entry once, label positive when not 0,
prediction positive above `threshold`, 0.5 by default; with `top_k` only the
k highest of each row, all of them unless `threshold` is given; logits go
through a sigmoid first). Total = true positives, count = true positives
plus false negatives (the positive label entries), summed over batches.
`{recall: {top_k: 5}}` is the Stack Overflow tag task's `Recall(top_k=5)`.
"""

from codegen.catalogue.metrics import BINARY, PROBE, REGRESSION
from codegen.catalogue.metrics.precision import PARAMS as PRECISION_PARAMS
from codegen.catalogue.metrics.precision import confusion_data
from codegen.catalogue.metrics.precision import problem as precision_problem

PARAMS = PRECISION_PARAMS


def problem(loss, label, forward, params):
    return precision_problem(loss, label, forward, params)


def data(metric, spec):
    return confusion_data(metric, spec, PARAMS)


VALID = (
    PROBE.format(metric="{recall: {top_k: 1}}", **BINARY),
    PROBE.format(
        metric="{recall: {threshold: 0.25, aggregation: max}}",
        **{**BINARY, "loss": "{binary_crossentropy: {from_logits: true}}"},
    ),
)
INVALID = (
    (
        PROBE.format(metric="recall", **REGRESSION),
        "metrics.m.recall: expected the binary_crossentropy loss (0/1 labels), found mean_squared_error",
    ),
    (
        PROBE.format(metric="{recall: {top_k: 0}}", **BINARY),
        "metrics.m.recall.top_k: expected a positive integer, found 0",
    ),
)
