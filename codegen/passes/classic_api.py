"""WG801 classic-api: no TFF API that 0.87 removed, and no classic aggregation passed to modern code.

Much TFF model code online targets the classic API. TFF 0.87 no longer has
`tff.learning.Model`, `TrainableModel`, `BatchOutput`, `ModelWeights`,
`from_keras_model`, `build_federated_averaging_process`,
`build_federated_evaluation`, `tff.learning.framework` or `tff.tf_computation`;
using them fails with an AttributeError at import time. The classic
`federated_output_computation` (or `report_local_outputs`) is also not a
`metrics_aggregator`: the modern builders call that with the metric
finalizers and expect a factory of a federated computation. TFF's internal
spellings count too: `from tensorflow_federated.python.learning import model`
then `model.Model` is `tff.learning.Model`.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from codegen.passes import match as m
from codegen.passes.analysis import TFF, Finding, SourceModule, canonical

CODE = "WG801"
NAME = "classic-api"
MESSAGE = "uses a TFF API that 0.87 removed, or mixes the classic aggregation with the modern one"

REMOVED = {
    f"{TFF}.tf_computation": "tff.tensorflow.computation",
    f"{TFF}.learning.Model": "tff.learning.models.VariableModel",
    f"{TFF}.learning.TrainableModel": "tff.learning.models.VariableModel",
    f"{TFF}.learning.BatchOutput": "tff.learning.models.BatchOutput",
    f"{TFF}.learning.ModelWeights": "tff.learning.models.ModelWeights",
    f"{TFF}.learning.from_keras_model": "tff.learning.models.from_keras_model",
    f"{TFF}.learning.build_federated_averaging_process": "tff.learning.algorithms.build_weighted_fed_avg",
    f"{TFF}.learning.build_federated_evaluation": "tff.learning.algorithms.build_fed_eval",
    f"{TFF}.learning.framework": "tff.learning.templates and tff.learning.models",
}
CLASSIC_AGGREGATION = ("federated_output_computation", "report_local_outputs")

VALID = (
    """\
import tensorflow_federated as tff

process = tff.learning.algorithms.build_weighted_fed_avg(
    model_fn, client_optimizer_fn=opt, metrics_aggregator=tff.learning.metrics.sum_then_finalize
)
""",
)

INVALID = (
    (
        3,
        11,
        "import tensorflow_federated as tff\n\nprocess = tff.learning.build_federated_averaging_process(model_fn)\n",
    ),
    (1, 1, "from tensorflow_federated.learning import Model\n"),
    (
        5,
        24,
        "import tensorflow_federated as tff\n\n"
        "process = tff.learning.algorithms.build_weighted_fed_avg(\n"
        "    model_fn,\n"
        "    metrics_aggregator=model.federated_output_computation,\n"
        ")\n",
    ),
)


def check(module: SourceModule) -> Iterator[Finding]:
    inner: set[int] = set()
    for node in module.findall(module.tree, m.Attribute()):
        if id(node) in inner:
            continue
        current = node.value  # type: ignore[union-attr]
        while isinstance(current, cst.Attribute):
            inner.add(id(current))
            current = current.value
        yield from _removed(module, node)
    for node in module.findall(module.tree, m.ImportFrom()):
        assert isinstance(node, cst.ImportFrom)
        if node.module is None or isinstance(node.names, cst.ImportStar):
            continue
        base = canonical(module.code_for(node.module))
        for alias in node.names:
            name = canonical(f"{base}.{module.code_for(alias.name)}")
            if name in REMOVED or base in REMOVED:
                yield _report(module, node, name)
    for arg in module.findall(module.tree, m.Arg(keyword=m.Name("metrics_aggregator"))):
        value = arg.value  # type: ignore[union-attr]
        if isinstance(value, cst.Attribute) and value.attr.value in CLASSIC_AGGREGATION:
            yield module.finding(
                value,
                CODE,
                f"`{value.attr.value}` is the classic aggregation; `metrics_aggregator` takes a "
                "function of the metric finalizers (e.g. tff.learning.metrics.sum_then_finalize "
                "or the generated module's `metrics_aggregator`)",
            )


def _removed(module: SourceModule, node: cst.CSTNode) -> Iterator[Finding]:
    """Reports the shortest removed name that the attribute chain `node` starts with."""
    chain = []
    current = node
    while isinstance(current, cst.Attribute):
        chain.append(current)
        current = current.value
    for prefix in reversed(chain):
        name = module.qualname(prefix)
        if name in REMOVED:
            yield _report(module, prefix, name)
            return


def _report(module: SourceModule, node: cst.CSTNode, name: str) -> Finding:
    short = name.replace(f"{TFF}.", "tff.")
    replacement = REMOVED.get(name) or REMOVED.get(name.rsplit(".", 1)[0], "")
    return module.finding(
        node, CODE, f"`{short}` does not exist in TFF 0.87; use {replacement}"
    )
