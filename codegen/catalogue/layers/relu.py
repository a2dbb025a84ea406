"""rectified linear unit."""

from codegen.shapes import need_float


def output(flow, params, variables, field):
    need_float(flow)
    return flow


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
