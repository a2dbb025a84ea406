"""example-weighted mean of the batch loss."""

from codegen.catalogue.metrics import MEAN_PARAMS, PROBE, REGRESSION

PARAMS = MEAN_PARAMS

VALID = (PROBE.format(metric="{loss: {aggregation: max}}", **REGRESSION),)
INVALID = ()
