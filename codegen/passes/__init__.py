"""The verifier's passes: one module per rule, each with CODE, NAME, MESSAGE, VALID, INVALID and check().

`check(module)` takes a `SourceModule` and yields `Finding`s. VALID holds
sources the pass accepts; INVALID holds `(line, column, source)` triples, each
a source the pass rejects with exactly one finding at that 1-based position.
The test suite is generated from these lists.
"""

from __future__ import annotations

from codegen.passes import (
    aggregation,
    classic_api,
    contract,
    forward_pass,
    imports,
    model_fn,
    train_on_batch,
    variables,
)

PASSES = (
    contract,
    variables,
    forward_pass,
    train_on_batch,
    aggregation,
    imports,
    model_fn,
    classic_api,
)
"""Every pass, in rule-code order."""

BY_CODE = {p.CODE: p for p in PASSES}

__all__ = ["BY_CODE", "PASSES"]
