"""every element the same value."""

from codegen.catalogue.base import Param
from codegen.catalogue.initializers import FLOAT_VALID

PARAMS = (("value", Param("float")),)
NON_FLOAT = True
"""Also initialises integer and bool variables (with a whole number, or 0/1)."""


def data(variable):
    value = variable.initializer.params["value"]
    if variable.dtype == "bool":
        value = bool(value)
    elif variable.dtype.startswith("int"):
        value = int(value)
    return {"value": repr(value)}


VALID = (FLOAT_VALID.format(init="{constant: {value: 0.5}}"),)
INVALID = (
    (
        FLOAT_VALID.format(init="constant"),
        "variables.k.initializer.constant.value: expected this key, found it missing",
    ),
)
