"""softmax over the last axis."""

from codegen.shapes import need_float

PROBABILITIES = True
"""Its output is probabilities (see the losses' from_logits check)."""


MASK = "keeps"
"""A padding mask passes through it, as in Keras."""


def output(flow, params, variables, field):
    need_float(flow)
    return flow


KERAS = ("Softmax",)


def from_keras(layer, reader):
    if layer.axis not in (-1, [-1], (-1,)):
        raise reader.refuse(layer, "a softmax over another axis than the last")
    return ["softmax"]


VALID = ("forward: {layers: [softmax]}",)
INVALID = (
    (
        """
        inputs:
          x: {dtype: int32, shape: [null, 4]}
          y: {dtype: float32, shape: [null, 4]}
        forward: {layers: [softmax]}
        """,
        "forward.layers[0].softmax: expected a float input, found int32",
    ),
)
