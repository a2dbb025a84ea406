"""label positions whose id is not masked

TFF's `NumTokensCounter`: the number of entries of the (integer) label,
every position of every example, leaving out those whose id is one of
`masked_ids` (padding, end of sentence, out of vocabulary). An int64 count.
"""

from codegen.catalogue.base import INT_DTYPES, Param
from codegen.catalogue.metrics import CLASSES, COUNTER_PARAMS, PROBE, REGRESSION, fmt
from codegen.catalogue.metrics.sparse_categorical_accuracy import (
    PER_POSITION,
    held_ids,
    settings,
)

PARAMS = (*COUNTER_PARAMS, ("masked_ids", Param("ids", ())))
COUNTER = True


def problem(loss, label, forward, params):
    if label.dtype not in INT_DTYPES:
        return f"expected an integer label (token ids), found {label.dtype} {fmt(label.shape)}"
    return None


def data(metric, spec):
    values = settings(metric, PARAMS)
    return {"masked_ids": held_ids(values["masked_ids"], spec.label_input.dtype)}


VALID = (
    PROBE.format(metric="num_tokens", **CLASSES),
    PER_POSITION % "{num_tokens: {masked_ids: [0, 9], aggregation: max}}",
)
INVALID = (
    (
        PROBE.format(metric="num_tokens", **REGRESSION),
        "metrics.m.num_tokens: expected an integer label (token ids), found float32 [null, 2]",
    ),
    (
        PER_POSITION % "{num_tokens: {aggregation: mean}}",
        "metrics.m.num_tokens.aggregation: expected one of sum, max, min, found 'mean'",
    ),
)
