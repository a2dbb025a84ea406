"""reshape to [batch, *shape]."""

from codegen.catalogue.base import Param
from codegen.shapes import ShapeError, elements, fmt

PARAMS = (("shape", Param("shape")),)
KEEPS_MEANING = True


def output(flow, params, variables, field):
    target = tuple(int(dim) for dim in params["shape"])
    have = elements(flow.shape[1:])
    if elements(target) != have:
        raise ShapeError(
            f"expected a shape with {have} elements per example to match input "
            f"{fmt(flow.shape)}, found {fmt(target)}"
        )
    return flow.to((None, *target))


VALID = (
    """
    inputs:
      x: {dtype: float32, shape: [null, 4]}
      y: {dtype: float32, shape: [null, 2, 2]}
    forward: {layers: [{reshape: {shape: [2, 2]}}]}
    """,
)
INVALID = (
    (
        "forward: {layers: [{reshape: {shape: [3, 2]}}]}",
        "forward.layers[0].reshape: expected a shape with 4 elements per example to match input [null, 4], found [3, 2]",
    ),
)
