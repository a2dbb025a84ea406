"""Catalogue: metrics, one module per entry.

A metric is a counter (`COUNTER = True`: one int64 accumulator, `count`) or a
mean (two float32 accumulators, `total` and `count`, finalized as
total / count). Its template writes the statements of `forward_pass` that
update them from `label`, `predictions`, `loss` and `num_examples`; its
`problem` function says when the spec's loss or label does not fit it.
"""

from codegen.catalogue.base import Param
from codegen.shapes import fmt  # noqa: F401 - entries import it from here

COUNTER_AGGREGATIONS = ("sum", "max", "min")
MEAN_AGGREGATIONS = ("mean", "max", "min")


def aggregation(default: str, allowed: tuple[str, ...]) -> tuple:
    return (("aggregation", Param("enum", default, allowed)),)


COUNTER_PARAMS = aggregation("sum", COUNTER_AGGREGATIONS)
MEAN_PARAMS = aggregation("mean", MEAN_AGGREGATIONS)


PROBE = """
inputs:
  x: {{dtype: float32, shape: [null, 4]}}
  y: {{dtype: {dtype}, shape: {shape}}}
variables:
  k: {{shape: [4, {width}], initializer: zeros}}
forward: {{layers: [{{dense: {{kernel: k}}}}]}}
loss: {loss}
metrics: {{m: {metric}, num_examples: num_examples}}
"""
"""A spec fragment: metric `metric` (named m) with a loss, a [null, width] output and a label."""

CLASSES = {
    "dtype": "int32",
    "shape": "[null]",
    "width": 3,
    "loss": "sparse_categorical_crossentropy",
}
BINARY = {
    "dtype": "float32",
    "shape": "[null, 2]",
    "width": 2,
    "loss": "binary_crossentropy",
}
REGRESSION = {
    "dtype": "float32",
    "shape": "[null, 2]",
    "width": 2,
    "loss": "mean_squared_error",
}
