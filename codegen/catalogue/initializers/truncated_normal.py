"""normal truncated at two standard deviations, seeded."""

from codegen.catalogue.initializers import FLOAT_VALID, normal_data, normal_params

PARAMS = normal_params()
RANDOM = True


data = normal_data


VALID = (FLOAT_VALID.format(init="{truncated_normal: {seed: 1, stddev: 0.1}}"),)
INVALID = (
    (
        FLOAT_VALID.format(init="{truncated_normal: {seed: 1, stddev: 0}}"),
        "variables.k.initializer.truncated_normal.stddev: expected a number above 0, found 0",
    ),
)
