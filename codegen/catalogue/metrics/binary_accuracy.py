"""share of outputs on the label's side of 0.5 (of 0 when the loss takes logits)."""

from codegen.catalogue.metrics import BINARY, MEAN_PARAMS, PROBE, REGRESSION

PARAMS = MEAN_PARAMS


def problem(loss, label, forward, params):
    if loss.kind != "binary_crossentropy":
        return f"expected the binary_crossentropy loss (0/1 labels), found {loss.kind}"
    return None


def data(metric, spec):
    return {"threshold": "0.0" if spec.loss.params.get("from_logits") else "0.5"}


VALID = (PROBE.format(metric="binary_accuracy", **BINARY),)
INVALID = (
    (
        PROBE.format(metric="binary_accuracy", **REGRESSION),
        "metrics.m.binary_accuracy: expected the binary_crossentropy loss (0/1 labels), found mean_squared_error",
    ),
)
