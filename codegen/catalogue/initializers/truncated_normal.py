"""normal truncated at two standard deviations, seeded."""

from codegen.catalogue.base import Param
from codegen.catalogue.initializers import FLOAT_VALID

PARAMS = (
    ("seed", Param("int")),
    ("mean", Param("float", 0.0)),
    ("stddev", Param("positive", 0.05)),
)
RANDOM = True


def data(variable):
    params = variable.initializer.params
    return {
        "mean": repr(float(params["mean"])),
        "stddev": repr(float(params["stddev"])),
    }


VALID = (FLOAT_VALID.format(init="{truncated_normal: {seed: 1, stddev: 0.1}}"),)
INVALID = (
    (
        FLOAT_VALID.format(init="{truncated_normal: {seed: 1, stddev: 0}}"),
        "variables.k.initializer.truncated_normal.stddev: expected a number above 0, found 0",
    ),
)
