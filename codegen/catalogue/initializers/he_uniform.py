"""uniform in +-sqrt(6 / fan_in), seeded.

As Keras' `he_uniform`: variance scaling with scale 2.0 over fan_in.
"""

from codegen.catalogue.base import Param
from codegen.catalogue.initializers import FLOAT_VALID, uniform

PARAMS = (("seed", Param("int")),)
RANDOM = True


def data(variable):
    return uniform(variable.shape, 2.0, "fan_in")


VALID = (FLOAT_VALID.format(init="{he_uniform: {seed: 1}}"),)
INVALID = (
    (
        FLOAT_VALID.format(init="he_uniform"),
        "variables.k.initializer.he_uniform.seed: expected this key, found it missing",
    ),
)
