"""truncated normal, stddev sqrt(1 / fan_in), seeded.

As Keras' `lecun_normal`: variance scaling with scale 1.0 over fan_in, a normal truncated at two standard deviations.
"""

from codegen.catalogue.base import Param
from codegen.catalogue.initializers import FLOAT_VALID, truncated

PARAMS = (("seed", Param("int")),)
RANDOM = True


def data(variable):
    return truncated(variable.shape, 1.0, "fan_in")


VALID = (FLOAT_VALID.format(init="{lecun_normal: {seed: 1}}"),)
INVALID = (
    (
        FLOAT_VALID.format(init="lecun_normal"),
        "variables.k.initializer.lecun_normal.seed: expected this key, found it missing",
    ),
)
