"""uniform in [minval, maxval), seeded (Keras' `RandomUniform`)."""

from codegen.catalogue.base import Param, float_in
from codegen.catalogue.initializers import FLOAT_VALID
from codegen.shapes import ShapeError

PARAMS = (
    ("seed", Param("int")),
    ("minval", Param("float", -0.05)),
    ("maxval", Param("float", 0.05)),
)
RANDOM = True


def check(variable):
    params = variable.initializer.params
    low, high = float(params["minval"]), float(params["maxval"])
    if not low < high:
        raise ShapeError(
            f"expected minval below maxval, found {params['minval']!r} and {params['maxval']!r}"
        )
    if float_in(high - low, variable.dtype) is None:
        raise ShapeError(
            f"expected maxval - minval finite in {variable.dtype} (the sampler scales by "
            f"it), found {high - low!r}"
        )


def data(variable):
    params = variable.initializer.params
    return {
        "minval": repr(float(params["minval"])),
        "maxval": repr(float(params["maxval"])),
    }


VALID = (FLOAT_VALID.format(init="{random_uniform: {seed: 1}}"),)
INVALID = (
    (
        FLOAT_VALID.format(init="{random_uniform: {seed: 1, minval: 1, maxval: 0}}"),
        "variables.k.initializer.random_uniform: expected minval below maxval, found 1.0 and 0.0",
    ),
    (
        """
        inputs:
          x: {dtype: float16, shape: [null, 4]}
          y: {dtype: float16, shape: [null, 4]}
        variables:
          k: {shape: [4, 4], dtype: float16, initializer: {random_uniform: {seed: 1, minval: -60000, maxval: 60000}}}
        forward: {layers: [{dense: {kernel: k}}]}
        """,
        "variables.k.initializer.random_uniform: expected maxval - minval finite in float16 (the sampler scales by it), found 120000.0",
    ),
)
