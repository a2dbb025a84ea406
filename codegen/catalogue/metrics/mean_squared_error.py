"""mean squared error per example."""

from codegen.catalogue.base import FLOAT_DTYPES
from codegen.catalogue.metrics import CLASSES, MEAN_PARAMS, PROBE, REGRESSION

PARAMS = MEAN_PARAMS


def problem(loss, label, forward, params):
    if label.dtype not in FLOAT_DTYPES:
        return f"expected a float label, found {label.dtype}"
    return None


VALID = (PROBE.format(metric="mean_squared_error", **REGRESSION),)
INVALID = (
    (
        PROBE.format(metric="mean_squared_error", **CLASSES),
        "metrics.m.mean_squared_error: expected a float label, found int32",
    ),
)
