"""normal with mean and stddev, seeded (Keras' `RandomNormal`)."""

from codegen.catalogue.initializers import FLOAT_VALID, normal_data, normal_params

PARAMS = normal_params()
RANDOM = True


data = normal_data


VALID = (FLOAT_VALID.format(init="{random_normal: {seed: 1, stddev: 0.01}}"),)
INVALID = ()
