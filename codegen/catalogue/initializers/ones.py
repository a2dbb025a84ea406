"""all ones."""

from codegen.catalogue.initializers import FLOAT_VALID

VALID = (FLOAT_VALID.format(init="ones"),)
INVALID = ()
