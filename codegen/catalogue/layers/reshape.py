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


KERAS = ("Reshape",)


def from_keras(layer, reader):
    if any(dim is None or dim < 1 for dim in layer.target_shape):
        raise reader.refuse(layer, "a reshape with an open (-1) dimension")
    return [{"reshape": {"shape": [int(dim) for dim in layer.target_shape]}}]


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
