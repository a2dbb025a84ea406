"""batches seen."""

from codegen.catalogue.metrics import COUNTER_PARAMS, PROBE, REGRESSION

PARAMS = COUNTER_PARAMS
COUNTER = True

VALID = (PROBE.format(metric="num_batches", **REGRESSION),)
INVALID = ()
