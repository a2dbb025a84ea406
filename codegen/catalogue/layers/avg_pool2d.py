"""2-D average pooling of NHWC input

As Keras' `AveragePooling2D`: `strides` defaults to `size`, and with SAME
padding a window at the border averages only the cells inside the input.
"""

from codegen.catalogue.base import Param
from codegen.shapes import need_float, need_rank, spatial

PARAMS = (
    ("size", Param("positive_int", 2)),
    ("strides", Param("positive_int", None)),
    ("padding", Param("enum", "VALID", ("SAME", "VALID"))),
)


def output(flow, params, variables, field):
    need_rank(flow, 4, "a [batch, height, width, channels]")
    need_float(flow)
    size = int(params["size"])
    stride = int(params["strides"] or size)
    padding = str(params["padding"])
    height = spatial(int(flow.shape[1]), size, stride, padding)
    width = spatial(int(flow.shape[2]), size, stride, padding)
    return flow.to((None, height, width, flow.shape[3]))


KERAS = ("AveragePooling2D",)


def from_keras(layer, reader):
    size, strides = tuple(layer.pool_size), tuple(layer.strides)
    if (
        size[0] != size[1]
        or strides[0] != strides[1]
        or layer.data_format != "channels_last"
    ):
        raise reader.refuse(layer, "only square, channels-last pooling")
    return [
        {
            "avg_pool2d": {
                "size": size[0],
                "strides": strides[0],
                "padding": layer.padding.upper(),
            }
        }
    ]


VALID = (
    """
    inputs:
      x: {dtype: float32, shape: [null, 6, 6, 2]}
      y: {dtype: float32, shape: [null, 3, 3, 2]}
    forward: {layers: [{avg_pool2d: {size: 2}}]}
    """,
    """
    inputs:
      x: {dtype: float32, shape: [null, 5, 5, 2]}
      y: {dtype: float32, shape: [null, 3, 3, 2]}
    forward: {layers: [{avg_pool2d: {size: 3, strides: 2, padding: SAME}}]}
    """,
)
INVALID = (
    (
        """
        inputs:
          x: {dtype: float32, shape: [null, 1, 1, 2]}
          y: {dtype: float32, shape: [null, 1, 1, 2]}
        forward: {layers: [avg_pool2d]}
        """,
        "forward.layers[0].avg_pool2d: expected spatial size at least 2 for VALID padding, found 1",
    ),
    (
        """
        inputs:
          x: {dtype: int32, shape: [null, 4, 4, 2]}
          y: {dtype: float32, shape: [null, 2, 2, 2]}
        forward: {layers: [avg_pool2d]}
        """,
        "forward.layers[0].avg_pool2d: expected a float input, found int32",
    ),
)
