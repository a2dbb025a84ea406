"""examples seen."""

from codegen.catalogue.metrics import COUNTER_PARAMS, PROBE, REGRESSION

PARAMS = COUNTER_PARAMS
COUNTER = True

VALID = (PROBE.format(metric="{num_examples: {aggregation: max}}", **REGRESSION),)
INVALID = (
    (
        PROBE.format(metric="{num_examples: {aggregation: mean}}", **REGRESSION),
        "metrics.m.num_examples.aggregation: expected one of sum, max, min, found 'mean'",
    ),
)
