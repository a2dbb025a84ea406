"""hyperbolic tangent."""

from codegen.shapes import need_float

MASK = "keeps"
"""A padding mask passes through it, as in Keras."""


def output(flow, params, variables, field):
    need_float(flow)
    return flow


VALID = ("forward: {layers: [tanh]}",)
INVALID = (
    (
        """
        inputs:
          x: {dtype: int32, shape: [null, 4]}
          y: {dtype: float32, shape: [null, 4]}
        forward: {layers: [tanh]}
        """,
        "forward.layers[0].tanh: expected a float input, found int32",
    ),
)
