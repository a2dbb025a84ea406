"""logistic sigmoid."""

from codegen.shapes import need_float

PROBABILITIES = True
"""Its output is probabilities (see the losses' from_logits check)."""


MASK = "keeps"
"""A padding mask passes through it, as in Keras."""


def output(flow, params, variables, field):
    need_float(flow)
    return flow


VALID = ("forward: {layers: [sigmoid]}",)
INVALID = (
    (
        """
        inputs:
          x: {dtype: int32, shape: [null, 4]}
          y: {dtype: float32, shape: [null, 4]}
        forward: {layers: [sigmoid]}
        """,
        "forward.layers[0].sigmoid: expected a float input, found int32",
    ),
)
