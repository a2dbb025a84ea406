"""all zeros."""

from codegen.catalogue.initializers import FLOAT_VALID

VALID = (FLOAT_VALID.format(init="zeros"),)
INVALID = ()
