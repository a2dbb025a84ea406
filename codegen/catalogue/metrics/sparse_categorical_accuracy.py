"""share of examples whose top class is the label."""

from codegen.catalogue.metrics import CLASSES, MEAN_PARAMS, PROBE, REGRESSION, fmt

PARAMS = MEAN_PARAMS


def problem(loss, label, forward):
    if loss.kind != "sparse_categorical_crossentropy":
        return f"expected the sparse_categorical_crossentropy loss (integer class labels), found {loss.kind}"
    if label.shape[1:] not in ((), (1,)):
        return f"expected one class id per example (a label of shape [null] or [null, 1]; the accuracy of one class id per position is not supported), found {label.dtype} {fmt(label.shape)}"
    return None


VALID = (PROBE.format(metric="sparse_categorical_accuracy", **CLASSES),)
INVALID = (
    (
        PROBE.format(metric="sparse_categorical_accuracy", **REGRESSION),
        "metrics.m.sparse_categorical_accuracy: expected the sparse_categorical_crossentropy loss (integer class labels), found mean_squared_error",
    ),
)
