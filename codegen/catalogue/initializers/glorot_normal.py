"""truncated normal, stddev sqrt(2 / (fan_in + fan_out)), seeded.

As Keras' `glorot_normal`: variance scaling with scale 1.0 over fan_avg, a normal truncated at two standard deviations.
"""

from codegen.catalogue.base import Param
from codegen.catalogue.initializers import FLOAT_VALID, truncated

PARAMS = (("seed", Param("int")),)
RANDOM = True


def data(variable):
    return truncated(variable.shape, 1.0, "fan_avg")


VALID = (FLOAT_VALID.format(init="{glorot_normal: {seed: 1}}"),)
INVALID = (
    (
        FLOAT_VALID.format(init="glorot_normal"),
        "variables.k.initializer.glorot_normal.seed: expected this key, found it missing",
    ),
)
