"""uniform in +-sqrt(3 / fan_in), seeded.

As Keras' `lecun_uniform`: variance scaling with scale 1.0 over fan_in.
"""

from codegen.catalogue.base import Param
from codegen.catalogue.initializers import FLOAT_VALID, uniform

PARAMS = (("seed", Param("int")),)
RANDOM = True


def data(variable):
    return uniform(variable.shape, 1.0, "fan_in")


VALID = (FLOAT_VALID.format(init="{lecun_uniform: {seed: 1}}"),)
INVALID = (
    (
        FLOAT_VALID.format(init="lecun_uniform"),
        "variables.k.initializer.lecun_uniform.seed: expected this key, found it missing",
    ),
)
