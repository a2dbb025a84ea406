"""normal with mean and stddev, seeded (Keras' `RandomNormal`)."""

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


VALID = (FLOAT_VALID.format(init="{random_normal: {seed: 1, stddev: 0.01}}"),)
INVALID = ()
