"""mean over one non-batch axis."""

from codegen.catalogue.base import Param
from codegen.shapes import ShapeError, fmt, need_float

PARAMS = (("axis", Param("positive_int", 1)),)


def output(flow, params, variables, field):
    axis = int(params["axis"])
    if axis >= len(flow.shape):
        raise ShapeError(
            f"expected an axis below {len(flow.shape)} for input {fmt(flow.shape)}"
        )
    need_float(flow)
    return flow.to(flow.shape[:axis] + flow.shape[axis + 1 :])


VALID = (
    """
    inputs:
      x: {dtype: float32, shape: [null, 3, 4]}
      y: {dtype: float32, shape: [null, 4]}
    forward: {layers: [reduce_mean]}
    """,
)
INVALID = (
    (
        "forward: {layers: [{reduce_mean: {axis: 2}}]}",
        "forward.layers[0].reduce_mean: expected an axis below 2 for input [null, 4]",
    ),
)
