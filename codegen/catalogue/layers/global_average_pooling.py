"""mean over height and width of NHWC input, giving [batch, channels]

As Keras' `GlobalAveragePooling2D()`: [batch, height, width, channels] ->
[batch, channels].
"""

from codegen.shapes import need_float, need_rank


def output(flow, params, variables, field):
    need_rank(flow, 4, "a [batch, height, width, channels]")
    need_float(flow)
    return flow.to((None, flow.shape[3]))


KERAS = ("GlobalAveragePooling2D",)


def from_keras(layer, reader):
    if layer.data_format != "channels_last" or getattr(layer, "keepdims", False):
        raise reader.refuse(layer, "only channels-last pooling without keepdims")
    return ["global_average_pooling"]


VALID = (
    """
    inputs:
      x: {dtype: float32, shape: [null, 3, 5, 4]}
      y: {dtype: float32, shape: [null, 4]}
    forward: {layers: [global_average_pooling]}
    """,
)
INVALID = (
    (
        "forward: {layers: [global_average_pooling]}",
        "forward.layers[0].global_average_pooling: expected a [batch, height, width, channels] input of rank 4, found shape [null, 4]",
    ),
)
