"""uniform in [minval, maxval), seeded (Keras' `RandomUniform`)."""

from codegen.catalogue.base import Param
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
    if not float(params["minval"]) < float(params["maxval"]):
        raise ShapeError(
            f"expected minval below maxval, found {params['minval']!r} and {params['maxval']!r}"
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
)
