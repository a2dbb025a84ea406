"""WG501 aggregation: federated computations use only TFF intrinsics; every metric structure has the same keys.

TFF's rule for `federated_output_computation` (and any
`@tff.federated_computation`): its body orchestrates placed values with
`tff.federated_*` intrinsics and builds structures; it runs no TensorFlow op
and no Python arithmetic on placed values, because those values are not
tensors there. Other federated computations of a hand-written module (an
aggregation process's `next_fn`, TFF's own) may call Python helpers and other
processes while tracing, so there only TensorFlow ops are reported; the
metric aggregation inside `federated_output_computation`, and every
computation of a generated module, must use intrinsics alone. All TensorFlow
work belongs in `report_local_outputs` or in a `tff.tensorflow.computation`
the body maps. Metric structures must agree:
`report_local_unfinalized_metrics`, `metric_finalizers`,
`report_local_outputs` and the federated aggregation have identical keys,
with each metric once. The two modern methods return
`collections.OrderedDict`: TFF's FedAvg rejects a plain `dict`.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from codegen.passes import match as m
from codegen.passes.analysis import (
    Finding,
    ModelClass,
    Scope,
    SourceModule,
    resolve_local,
    structure_keys,
)

CODE = "WG501"
NAME = "aggregation"
MESSAGE = "a federated computation does TensorFlow or Python work, or metric structures disagree"

FEDERATED_COMPUTATION = "tensorflow_federated.federated_computation"
TENSORFLOW_COMPUTATIONS = (
    "tensorflow_federated.tensorflow.computation",
    "tensorflow_federated.tf_computation",
)
STRUCTURES = (
    "collections.OrderedDict",
    "dict",
    "list",
    "tuple",
    "tensorflow_federated.templates.MeasuredProcessOutput",
)
ORDERED_DICT = "collections.OrderedDict"
METRIC_METHODS = (
    "report_local_unfinalized_metrics",
    "metric_finalizers",
    "report_local_outputs",
    "federated_output_computation",
)

VALID = (
    """\
import collections

import tensorflow as tf
import tensorflow_federated as tff

NAMES = ("loss", "num_examples")


class Model(tff.learning.models.VariableModel):
    def report_local_unfinalized_metrics(self):
        return collections.OrderedDict(loss=[self._total, self._count], num_examples=self._count)

    def metric_finalizers(self):
        return collections.OrderedDict(loss=lambda x: x[0] / x[1], num_examples=tf.identity)

    def report_local_outputs(self):
        values = self.report_local_unfinalized_metrics()
        return collections.OrderedDict((name, values[name]) for name in NAMES)

    @property
    def federated_output_computation(self):
        @tff.federated_computation(tff.FederatedType(LOCAL_TYPE, tff.CLIENTS))
        def aggregate(outputs):
            @tff.tensorflow.computation
            def double(x):
                return x * 2.0

            return collections.OrderedDict(
                loss=tff.federated_mean(tff.federated_map(double, outputs.loss), weight=outputs.num_examples),
                num_examples=tff.federated_sum(outputs.num_examples),
            )

        return aggregate
""",
    # A process built from a computation that a module-level builder returns,
    # and from TFF's own structure types.
    """\
import collections

import tensorflow_federated as tff


def aggregator(finalizers):
    @tff.federated_computation
    def aggregate(client_metrics):
        return tff.federated_sum(client_metrics)

    return aggregate


def process(finalizers):
    aggregate = aggregator(finalizers)

    @tff.federated_computation(STATE_TYPE, tff.FederatedType(METRICS_TYPE, tff.CLIENTS))
    def next_fn(state, client_metrics):
        return tff.templates.MeasuredProcessOutput(
            state=state,
            result=aggregate(client_metrics),
            measurements=tff.federated_value((), tff.SERVER),
        )

    return tff.templates.AggregationProcess(initialize, next_fn)
""",
)

_HEAD = """\
import collections

import tensorflow as tf
import tensorflow_federated as tff


class Model(tff.learning.models.VariableModel):
    def report_local_unfinalized_metrics(self):
        return collections.OrderedDict(loss=[self._total, self._count], num_examples=self._count)

"""
_FINALIZERS = """\
    def metric_finalizers(self):
        return collections.OrderedDict(loss=lambda x: x[0] / x[1], num_examples=tf.identity)

"""


def _aggregate(*lines: str) -> str:
    body = "".join(f"                {line},\n" for line in lines)
    return (
        "    @property\n"
        "    def federated_output_computation(self):\n"
        "        @tff.federated_computation(tff.FederatedType(LOCAL_TYPE, tff.CLIENTS))\n"
        "        def aggregate(outputs):\n"
        "            return collections.OrderedDict(\n"
        f"{body}"
        "            )\n\n"
        "        return aggregate\n"
    )


_MEAN = "loss=tff.federated_mean(outputs.loss, weight=outputs.num_examples)"
_SUM = "num_examples=tff.federated_sum(outputs.num_examples)"

INVALID = (
    # A TensorFlow op in place of a federated intrinsic.
    (
        20,
        30,
        _HEAD
        + _FINALIZERS
        + _aggregate(_MEAN, "num_examples=tf.reduce_sum(outputs.num_examples)"),
    ),
    # Python arithmetic on placed values.
    (
        19,
        22,
        _HEAD
        + _FINALIZERS
        + _aggregate("loss=tff.federated_sum(outputs.loss) / 2.0", _SUM),
    ),
    # A metric key missing from the finalizers.
    (
        12,
        16,
        _HEAD
        + "    def metric_finalizers(self):\n"
        + "        return collections.OrderedDict(loss=lambda x: x[0] / x[1])\n\n"
        + _aggregate(_MEAN, _SUM),
    ),
    # A metric aggregated twice.
    (
        21,
        17,
        _HEAD
        + _FINALIZERS
        + "    @property\n"
        + "    def federated_output_computation(self):\n"
        + "        @tff.federated_computation(tff.FederatedType(LOCAL_TYPE, tff.CLIENTS))\n"
        + "        def aggregate(outputs):\n"
        + "            return {\n"
        + '                "loss": tff.federated_mean(outputs.loss, weight=outputs.num_examples),\n'
        + '                "num_examples": tff.federated_sum(outputs.num_examples),\n'
        + '                "loss": tff.federated_sum(outputs.loss),\n'
        + "            }\n\n"
        + "        return aggregate\n",
    ),
    # A plain dict where TFF needs an OrderedDict.
    (
        12,
        16,
        _HEAD
        + "    def metric_finalizers(self):\n"
        + "        return {'loss': lambda x: x[0] / x[1], 'num_examples': tf.identity}\n",
    ),
)


def check(module: SourceModule) -> Iterator[Finding]:
    builders: set[str] | None = None  # found once, when the module has a computation
    for function in module.findall(module.tree, m.FunctionDef()):
        assert isinstance(function, cst.FunctionDef)
        if FEDERATED_COMPUTATION in module.decorator_names(function):
            if builders is None:
                builders = _computation_builders(module)
            yield from _federated_body(module, function, builders)
    for model in module.models:
        yield from _metric_structures(module, model)


def _federated_body(
    module: SourceModule, function: cst.FunctionDef, builders: set[str]
) -> Iterator[Finding]:
    computations = _computations_in_scope(module, function, builders)
    strict = module.generated or any(
        isinstance(a, cst.FunctionDef)
        and a.name.value == "federated_output_computation"
        for a in module.ancestors(function)
    )
    skipped = (cst.Lambda, cst.Decorator)
    for node in module.findall(function.body, _BODY_NODES):
        if any(
            isinstance(a, skipped)
            or (
                isinstance(a, cst.FunctionDef)
                and set(module.decorator_names(a)) & set(TENSORFLOW_COMPUTATIONS)
            )
            for a in _ancestors_within(module, node, function)
        ):
            continue
        if isinstance(node, cst.Call):
            finding = _call(module, function, node, computations, strict)
            if finding is not None:
                yield finding
        elif strict and not (
            isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not)
        ):
            yield _arithmetic(module, function, node)


def _is_computation(module: SourceModule, function: cst.CSTNode) -> bool:
    return isinstance(function, cst.FunctionDef) and bool(
        set(module.decorator_names(function))
        & set(TENSORFLOW_COMPUTATIONS + (FEDERATED_COMPUTATION,))
    )


def _computations_in_scope(
    module: SourceModule, function: cst.FunctionDef, builders: set[str]
) -> set[str]:
    """Names that hold TFF computations where `function`'s body runs.

    The computations defined in its body or in an enclosing function, and
    names an enclosing function binds to the result of one of `builders`,
    the module-level functions that return a computation they define.
    """
    scopes = [
        function,
        *(a for a in module.ancestors(function) if isinstance(a, cst.FunctionDef)),
    ]
    names: set[str] = set()
    for scope in scopes:
        for inner in module.findall(scope.body, m.FunctionDef()):
            if _is_computation(module, inner):
                names.add(inner.name.value)
        for assign in module.findall(scope.body, m.Assign()):
            if (
                isinstance(assign.value, cst.Call)
                and isinstance(assign.value.func, cst.Name)
                and assign.value.func.value in builders
            ):
                names.update(
                    t.target.value
                    for t in assign.targets
                    if isinstance(t.target, cst.Name)
                )
    return names


def _computation_builders(module: SourceModule) -> set[str]:
    """Module-level functions that return a TFF computation they define."""
    builders = set()
    for statement in module.tree.body:
        if not isinstance(statement, cst.FunctionDef):
            continue
        defined = {
            inner.name.value
            for inner in module.findall(statement.body, m.FunctionDef())
            if _is_computation(module, inner)
        }
        if any(
            isinstance(ret.value, cst.Name) and ret.value.value in defined
            for ret in module.returns(statement)
        ):
            builders.add(statement.name.value)
    return builders


_BODY_NODES = m.Call() | m.BinaryOperation() | m.UnaryOperation() | m.AugAssign()


def _ancestors_within(
    module: SourceModule, node: cst.CSTNode, function: cst.FunctionDef
) -> Iterator[cst.CSTNode]:
    """`node` itself and its ancestors below `function`."""
    yield node
    for ancestor in module.ancestors(node):
        if ancestor is function:
            return
        yield ancestor


def _call(
    module: SourceModule,
    function: cst.FunctionDef,
    node: cst.Call,
    computations: set[str],
    strict: bool,
) -> Finding | None:
    name = module.call_name(node) or ""
    if name.startswith("tensorflow_federated.federated_") or name in STRUCTURES:
        return None
    if not strict and not name.startswith("tensorflow."):
        return None
    if isinstance(node.func, cst.Name) and node.func.value in computations:
        return None
    if name.startswith("tensorflow."):
        what = f"TensorFlow op `{module.code_for(node.func)}`"
    else:
        what = f"`{module.code_for(node.func)}`, which is not a TFF intrinsic,"
    return module.finding(
        node,
        CODE,
        f"federated computation `{function.name.value}` calls {what} on placed "
        "values; use `tff.federated_*` intrinsics (TensorFlow work belongs in "
        "report_local_outputs or a mapped tff.tensorflow.computation)",
    )


def _arithmetic(
    module: SourceModule, function: cst.FunctionDef, node: cst.CSTNode
) -> Finding:
    return module.finding(
        node,
        CODE,
        f"federated computation `{function.name.value}` does Python arithmetic "
        f"(`{module.code_for(node)}`) on placed values; aggregate with `tff.federated_*` "
        "intrinsics and compute in report_local_outputs",
    )


def _metric_structures(module: SourceModule, model: ModelClass) -> Iterator[Finding]:
    structures: dict[str, tuple[cst.CSTNode, list[tuple[str, cst.CSTNode]]]] = {}
    for name in METRIC_METHODS:
        function = model.members.get(name)
        if function is None:
            continue
        if name == "federated_output_computation":
            inner = [
                f
                for f in module.findall(function.body, m.FunctionDef())
                if FEDERATED_COMPUTATION in module.decorator_names(f)  # type: ignore[arg-type]
            ]
            if not inner:
                continue
            function = inner[0]  # type: ignore[assignment]
        scope = Scope(module, function)
        for ret in module.returns(function):
            if ret.value is None:
                continue
            value = resolve_local(ret.value, scope)
            if name in METRIC_METHODS[:2]:
                plain = (
                    isinstance(value, (cst.Dict, cst.DictComp))
                    or module.call_name(value) == "dict"
                )
                if plain:
                    yield module.finding(
                        value,
                        CODE,
                        f"`{name}` returns a plain dict; TFF's FedAvg requires `collections.OrderedDict`",
                    )
            keys = structure_keys(module, value)
            if keys is not None:
                structures[name] = (value, keys)
                break
    for name, (_, keys) in structures.items():
        seen: set[str] = set()
        for key, node in keys:
            if key in seen:
                yield module.finding(
                    node, CODE, f"metric `{key}` appears twice in `{name}`"
                )
            seen.add(key)
    if len(structures) < 2:
        return
    names = list(structures)
    key_sets = {name: {key for key, _ in structures[name][1]} for name in names}
    everything = set().union(*key_sets.values())
    for name in names:
        missing, extra = [], []
        for key in sorted(everything):
            having = [n for n in names if key in key_sets[n]]
            majority = 2 * len(having) > len(names) or (
                2 * len(having) == len(names) and names[0] in having
            )
            if majority and key not in key_sets[name]:
                missing.append(key)
            elif not majority and key in key_sets[name]:
                extra.append(key)
        others = ", ".join(n for n in names if n != name)
        if missing:
            yield module.finding(
                structures[name][0],
                CODE,
                f"`{name}` lacks metric key(s) {', '.join(f'`{k}`' for k in missing)} that {others} have",
            )
        if extra:
            yield module.finding(
                structures[name][0],
                CODE,
                f"`{name}` has metric key(s) {', '.join(f'`{k}`' for k in extra)} that {others} lack",
            )
