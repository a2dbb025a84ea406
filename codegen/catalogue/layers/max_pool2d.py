"""2-D max pooling of NHWC input."""

from codegen.catalogue.base import Param
from codegen.shapes import need_float, need_rank, spatial

PARAMS = (
    ("size", Param("positive_int", 2)),
    ("strides", Param("positive_int", None)),
    ("padding", Param("enum", "VALID", ("SAME", "VALID"))),
)


def pool_output(flow, params, kind):
    """The output of 2-D pooling `kind` (max or average) of an NHWC input."""
    need_rank(flow, 4, "a [batch, height, width, channels]")
    if kind == "avg_pool2d":
        need_float(flow)
    size = int(params["size"])
    stride = int(params["strides"] or size)
    padding = str(params["padding"])
    height = spatial(int(flow.shape[1]), size, stride, padding)
    width = spatial(int(flow.shape[2]), size, stride, padding)
    return flow.to((None, height, width, flow.shape[3]))


def output(flow, params, variables, field):
    return pool_output(flow, params, "max_pool2d")


KERAS = ("MaxPooling2D",)


def pool_from_keras(layer, reader, kind):
    """A Keras 2-D pooling layer (square, channels last) as `kind`."""
    size, strides = tuple(layer.pool_size), tuple(layer.strides)
    square = size[0] == size[1] and strides[0] == strides[1]
    if not square or layer.data_format != "channels_last":
        raise reader.refuse(layer, "only square, channels-last pooling")
    padding = layer.padding.upper()
    return [{kind: {"size": size[0], "strides": strides[0], "padding": padding}}]


def from_keras(layer, reader):
    return pool_from_keras(layer, reader, "max_pool2d")


VALID = (
    """
    inputs:
      x: {dtype: float32, shape: [null, 6, 6, 2]}
      y: {dtype: float32, shape: [null, 3, 3, 2]}
    forward: {layers: [{max_pool2d: {size: 2}}]}
    """,
    """
    inputs:
      x: {dtype: float32, shape: [null, 5, 5, 2]}
      y: {dtype: float32, shape: [null, 3, 3, 2]}
    forward: {layers: [{max_pool2d: {size: 3, strides: 2, padding: SAME}}]}
    """,
)
INVALID = (
    (
        """
        inputs:
          x: {dtype: float32, shape: [null, 1, 1, 2]}
          y: {dtype: float32, shape: [null, 1, 1, 2]}
        forward: {layers: [max_pool2d]}
        """,
        "forward.layers[0].max_pool2d: expected spatial size at least 2 for VALID padding, found 1",
    ),
)
