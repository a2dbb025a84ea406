"""Catalogue: losses, one module per entry.

A loss module says which labels it takes (`label_problem`) and which layer
outputs fit them (`output_problem`); its template writes `loss = ...`, the
batch's data loss, from `label` and `predictions`.
"""

from codegen.catalogue.base import FLOAT_DTYPES, INT_DTYPES, Param
from codegen.shapes import fmt  # noqa: F401 - entries import it from here

L2 = ("l2", Param("non_negative", 0.0))
REDUCTION = ("reduction", Param("enum", "mean", ("mean", "sum"), later=True))
"""How per-example (per-position) losses become the batch loss, as Keras'
`SUM_OVER_BATCH_SIZE` (mean) or `SUM` reduction."""
FROM_LOGITS = ("from_logits", Param("bool", False))

BINARY_LABEL_DTYPES = (*FLOAT_DTYPES, *INT_DTYPES, "bool")
"""Label dtypes of binary_crossentropy and binary_accuracy: 0/1 as float, integer or bool."""


def same_shape(label, output):
    """Why the layers' `output` cannot be compared with `label` element by element, or None."""
    if output != label.shape:
        return f"expected the layers' output shape to equal the label shape {fmt(label.shape)}, found {fmt(output)}"
    return None


def float_label(label, per_position=False):
    if label.dtype not in FLOAT_DTYPES:
        return f"expected a float label, found {label.dtype}"
    return None


PROBE = """
inputs:
  x: {{dtype: float32, shape: [null, 4]}}
  y: {{dtype: {dtype}, shape: {shape}}}
variables:
  k: {{shape: [4, {width}], initializer: zeros}}
forward: {{layers: [{{dense: {{kernel: k}}}}]}}
loss: {loss}
metrics: {{loss: loss, num_examples: num_examples}}
"""
"""A spec fragment: loss `loss` on a [null, width] output and a label of dtype and shape."""
