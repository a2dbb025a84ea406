"""2-D convolution of NHWC input; filters [height, width, in, out] (HWIO, as Keras')."""

from codegen.catalogue.base import Param
from codegen.shapes import ShapeError, bias, fmt, need_float, need_rank, spatial, var

PARAMS = (
    ("filters", Param("variable")),
    ("bias", Param("variable", None)),
    ("strides", Param("positive_int", 1)),
    ("padding", Param("enum", "SAME", ("SAME", "VALID"))),
)


def output(flow, params, variables, field):
    need_rank(flow, 4, "a [batch, height, width, channels]")
    need_float(flow)
    filters = var(params, "filters", variables)
    channels = flow.shape[3]
    if len(filters.shape) != 4 or filters.shape[2] != channels:
        raise ShapeError(
            f"expected filters {filters.name!r} of shape [height, width, {channels}, out] for "
            f"input {fmt(flow.shape)}, found {fmt(filters.shape)}"
        )
    stride, padding = int(params["strides"]), str(params["padding"])
    height = spatial(int(flow.shape[1]), int(filters.shape[0]), stride, padding)
    width = spatial(int(flow.shape[2]), int(filters.shape[1]), stride, padding)
    bias(params, variables, int(filters.shape[3]))
    return flow.to((None, height, width, filters.shape[3]))


KERAS = ("Conv2D",)


def from_keras(layer, reader):
    """A Keras `Conv2D` (channels last, square strides, no dilation), then its activation."""
    strides = tuple(layer.strides)
    if (
        layer.data_format != "channels_last"
        or tuple(layer.dilation_rate) != (1, 1)
        or getattr(layer, "groups", 1) != 1
        or strides[0] != strides[1]
    ):
        raise reader.refuse(
            layer,
            "only channels-last, undilated, ungrouped convolutions with equal strides",
        )
    item = {
        "filters": reader.variable(
            layer,
            layer.kernel,
            layer.kernel_initializer,
            layer.kernel_regularizer,
            "kernel",
        )
    }
    if layer.use_bias:
        item["bias"] = reader.variable(
            layer, layer.bias, layer.bias_initializer, layer.bias_regularizer, "bias"
        )
    item["strides"] = strides[0]
    item["padding"] = layer.padding.upper()
    return [{"conv2d": item}, *reader.activation(layer)]


VALID = (
    """
    inputs:
      x: {dtype: float32, shape: [null, 6, 6, 2]}
      y: {dtype: float32, shape: [null, 3, 3, 4]}
    variables:
      f: {shape: [3, 3, 2, 4], initializer: {he_normal: {seed: 1}}}
      b: {shape: [4], initializer: zeros}
    forward: {layers: [{conv2d: {filters: f, bias: b, strides: 2, padding: SAME}}]}
    """,
)
INVALID = (
    (
        """
        inputs:
          x: {dtype: float32, shape: [null, 6, 6, 2]}
          y: {dtype: float32, shape: [null, 6, 6, 4]}
        variables:
          f: {shape: [3, 3, 3, 4], initializer: zeros}
        forward: {layers: [{conv2d: {filters: f}}]}
        """,
        "forward.layers[0].conv2d: expected filters 'f' of shape [height, width, 2, out] for input [null, 6, 6, 2], found [3, 3, 3, 4]",
    ),
    (
        """
        variables:
          f: {shape: [3, 3, 4, 4], initializer: zeros}
        forward: {layers: [{conv2d: {filters: f}}]}
        """,
        "forward.layers[0].conv2d: expected a [batch, height, width, channels] input of rank 4, found shape [null, 4]",
    ),
)
