"""share of predicted positives that are labelled positive, over all entries

Keras' `Precision(thresholds, top_k)` on 0/1 (multi-hot) labels: every entry
of every example counts once (micro-averaged), a label entry is positive
when it is not 0, and a prediction is positive when its probability is above
`threshold` (strictly). Total = true positives, count = true plus false
positives, summed over batches (not a mean of batch precisions).

With `top_k`, only the k highest probabilities of each row (the label's last
axis; ties go to the lower index, as `tf.math.top_k`) can be positive: all of
them when `threshold` is not given (Keras' default with top_k), else those
also above it. Without either, the threshold is 0.5.

When the loss takes logits (`from_logits: true`) the predictions are logits:
they are passed through a sigmoid first, so `threshold` is always a
probability and the results are Keras' on the model's probabilities.
"""

from codegen.catalogue.base import Param
from codegen.catalogue.metrics import BINARY, MEAN_PARAMS, PROBE, REGRESSION, fmt
from codegen.catalogue.metrics.sparse_categorical_accuracy import settings

PARAMS = (
    *MEAN_PARAMS,
    ("threshold", Param("rate", None)),
    ("top_k", Param("positive_int", None)),
)


def problem(loss, label, forward, params):
    """Why the loss or label does not fit; `params` (the metric's, when the
    validator passes them) also checks `top_k` against the label's classes."""
    if loss.kind != "binary_crossentropy":
        return f"expected the binary_crossentropy loss (0/1 labels), found {loss.kind}"
    top_k = (params or {}).get("top_k")
    if top_k is not None:
        if len(label.shape) < 2:
            return f"expected a label of rank 2 or more with top_k (the top k of each row are taken along its last axis), found {label.dtype} {fmt(label.shape)}"
        classes = label.shape[-1]
        if classes is not None and top_k > classes:
            return f"expected top_k at most {classes}, the label's last dimension (the top k of each row are taken along it), found {top_k}"
    return None


def confusion_data(metric, spec, params) -> dict:
    """What the precision and recall templates are fed."""
    values = settings(metric, params)
    threshold, top_k = values["threshold"], values["top_k"]
    if threshold is None and top_k is None:
        threshold = 0.5
    return {
        "threshold": None if threshold is None else repr(float(threshold)),
        "top_k": top_k,
        "from_logits": bool(spec.loss.params.get("from_logits")),
    }


def data(metric, spec):
    return confusion_data(metric, spec, PARAMS)


VALID = (
    PROBE.format(metric="precision", **BINARY),
    PROBE.format(metric="{precision: {threshold: 0.3, top_k: 1}}", **BINARY),
    PROBE.format(
        metric="{precision: {top_k: 2}}",
        **{**BINARY, "loss": "{binary_crossentropy: {from_logits: true}}"},
    ),
)
INVALID = (
    (
        PROBE.format(metric="precision", **REGRESSION),
        "metrics.m.precision: expected the binary_crossentropy loss (0/1 labels), found mean_squared_error",
    ),
    (
        PROBE.format(metric="{precision: {threshold: 1.0}}", **BINARY),
        "metrics.m.precision.threshold: expected a number in [0, 1), found 1.0",
    ),
    (
        PROBE.format(metric="{precision: {top_k: 3}}", **BINARY),
        "metrics.m.precision: expected top_k at most 2, the label's last dimension (the top k of each row are taken along it), found 3",
    ),
)
