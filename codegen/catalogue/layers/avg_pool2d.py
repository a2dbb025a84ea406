"""2-D average pooling of NHWC input

As Keras' `AveragePooling2D`: `strides` defaults to `size`, and with SAME
padding a window at the border averages only the cells inside the input.
"""

from codegen.catalogue.layers.max_pool2d import PARAMS, pool_from_keras, pool_output

PARAMS = PARAMS


def output(flow, params, variables, field):
    return pool_output(flow, params, "avg_pool2d")


KERAS = ("AveragePooling2D",)


def from_keras(layer, reader):
    return pool_from_keras(layer, reader, "avg_pool2d")


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
