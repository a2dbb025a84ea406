"""uniform in +-sqrt(6 / (fan_in + fan_out)), seeded.

As Keras' `glorot_uniform`: variance scaling with scale 1.0 over fan_avg.
"""

from codegen.catalogue.base import Param
from codegen.catalogue.initializers import FLOAT_VALID, uniform

PARAMS = (("seed", Param("int")),)
RANDOM = True


def data(variable):
    return uniform(variable.shape, 1.0, "fan_avg")


VALID = (FLOAT_VALID.format(init="{glorot_uniform: {seed: 1}}"),)
INVALID = (
    (
        FLOAT_VALID.format(init="glorot_uniform"),
        "variables.k.initializer.glorot_uniform.seed: expected this key, found it missing",
    ),
)
