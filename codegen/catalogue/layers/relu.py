"""rectified linear unit."""

from codegen.shapes import need_float

MASK = "keeps"
"""A padding mask passes through it, as in Keras."""


def output(flow, params, variables, field):
    need_float(flow)
    return flow


KERAS = ("ReLU", "Activation")


def from_keras(layer, reader):
    """A Keras `ReLU` (plain), or an `Activation` layer of any catalogue activation."""
    if type(layer).__name__ == "Activation":
        return reader.activation(layer)
    if (
        layer.max_value is not None
        or float(layer.negative_slope)
        or float(layer.threshold)
    ):
        raise reader.refuse(layer, "a ReLU with max_value, negative_slope or threshold")
    return ["relu"]


VALID = ("forward: {layers: [relu]}",)
INVALID = (
    (
        """
        inputs:
          x: {dtype: int32, shape: [null, 4]}
          y: {dtype: float32, shape: [null, 4]}
        forward: {layers: [relu]}
        """,
        "forward.layers[0].relu: expected a float input, found int32",
    ),
)
