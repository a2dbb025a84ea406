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
the body maps. `tff.sequence_*` intrinsics, computations defined at module
level or in an enclosing builder (`server_init_tf()`), and trace-time Python
(`len`, `isinstance`, logging, `tf.nest`, arithmetic on Python values rather
than placed ones) are orchestration and allowed. Metric structures must
agree: `report_local_unfinalized_metrics` and `metric_finalizers` have
identical keys (also when a helper method or function builds either, or
fills an `OrderedDict()` key by key); every key `report_local_outputs`
reports is output or read by the classic aggregation (which may weight by a
`num_examples_float` it does not output, or rename a metric); each metric
appears once; a generated module's four structures have identical keys. The
two modern methods return `collections.OrderedDict`: TFF's FedAvg rejects a
plain `dict`.
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
    called_function,
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
        if not all(
            model.inherits_from_model(name)
            for name in METRIC_METHODS
            if name in model.members
        ):  # else checked where the model it inherits them from is
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
    placed = _Placed(module, function, computations) if strict else None
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
            finding = _call(module, function, node, computations, placed)
            if finding is not None:
                yield finding
        elif placed is not None and not (
            isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not)
        ):
            operands = (
                [node.left, node.right]
                if isinstance(node, cst.BinaryOperation)
                else [node.target, node.value]
                if isinstance(node, cst.AugAssign)
                else [node.expression]  # type: ignore[union-attr]
            )
            if any(placed.holds(operand) for operand in operands):
                yield _arithmetic(module, function, node)


def _is_computation(module: SourceModule, function: cst.CSTNode) -> bool:
    return isinstance(function, cst.FunctionDef) and bool(
        set(module.decorator_names(function))
        & set(TENSORFLOW_COMPUTATIONS + (FEDERATED_COMPUTATION,))
    )


def _makes_computation(module: SourceModule, value: cst.CSTNode | None) -> bool:
    """`tff.tensorflow.computation(fn, ...)`, `tff.federated_computation(fn)` and the like."""
    return isinstance(value, cst.Call) and module.call_name(value) in (
        TENSORFLOW_COMPUTATIONS + (FEDERATED_COMPUTATION,)
    )


def _computations_in_scope(
    module: SourceModule, function: cst.FunctionDef, builders: set[str]
) -> set[str]:
    """Names that hold TFF computations where `function`'s body runs.

    The computations defined (by decorator, or by calling
    `tff.tensorflow.computation(fn)` / `tff.tf_computation(fn)` /
    `tff.federated_computation(fn)`) at module level, in its body or in an
    enclosing function, and names an enclosing function binds to the result
    of one of `builders`, the module-level functions that return a
    computation they define.
    """
    names = set(_module_computations(module))
    scopes = [
        function,
        *(a for a in module.ancestors(function) if isinstance(a, cst.FunctionDef)),
    ]
    for scope in scopes:
        for inner in module.findall(scope.body, m.FunctionDef()):
            if _is_computation(module, inner):
                names.add(inner.name.value)
        for assign in module.findall(scope.body, m.Assign()):
            value = assign.value
            if _makes_computation(module, value) or (
                isinstance(value, cst.Call)
                and isinstance(value.func, cst.Name)
                and value.func.value in builders
            ):
                names.update(
                    t.target.value
                    for t in assign.targets
                    if isinstance(t.target, cst.Name)
                )
    return names


def _module_computations(module: SourceModule) -> set[str]:
    names = {
        name
        for name, function in module.functions.items()
        if _is_computation(module, function)
    }
    names.update(
        name
        for name, value in module.assignments.items()
        if _makes_computation(module, value)
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

INTRINSIC_PREFIXES = (
    "tensorflow_federated.federated_",
    "tensorflow_federated.sequence_",
)
"""`tff.federated_*` and `tff.sequence_*` intrinsics."""

TRACE_TIME_TENSORFLOW = (
    "tensorflow.nest.",
    "tensorflow.dtypes.",
    "tensorflow.as_dtype",
)
"""TensorFlow utilities that work on Python structures and types, not tensors."""

TRACE_TIME_PYTHON = frozenset(
    {
        "isinstance",
        "issubclass",
        "len",
        "range",
        "enumerate",
        "zip",
        "print",
        "str",
        "repr",
        "int",
        "float",
        "bool",
        "sorted",
        "getattr",
        "hasattr",
        "type",
        "format",
        "iter",
        "next",
        "any",
        "all",
        "min",
        "max",
        "ValueError",
        "TypeError",
    }
)
"""Python builtins a federated computation may call while TFF traces it."""

TYPE_ATTRIBUTES = frozenset({"type_signature", "dtype", "shape", "placement", "member"})
"""Attributes of a placed value (or its type) that are Python values at trace time."""


class _Placed:
    """Which expressions of a federated computation's body hold placed values.

    Its parameters do; so does what a `tff.federated_*` / `tff.sequence_*`
    intrinsic or a computation returns, an attribute or item of a placed
    value (not its `type_signature`), and a name bound to any of these.
    Python builtins (`len`, `isinstance`), logging and type attributes give
    trace-time Python values: arithmetic on them is orchestration.
    """

    def __init__(
        self, module: SourceModule, function: cst.FunctionDef, computations: set[str]
    ) -> None:
        self.module = module
        self.computations = computations
        params = function.params
        self.names = {
            p.name.value
            for p in (
                *params.posonly_params,
                *params.params,
                *params.kwonly_params,
            )
        }
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                self.names.add(star.name.value)
        bindings = [
            (
                node.targets[0].target if isinstance(node, cst.Assign) else node.target,
                node,
            )
            for node in module.findall(
                function.body, m.Assign() | m.For() | m.CompFor()
            )
            if not isinstance(node, cst.Assign) or len(node.targets) == 1
        ]
        for _ in range(MAX_ROUNDS):  # a fixed point; each round adds a name or stops
            before = len(self.names)
            for target, node in bindings:
                value = node.value if isinstance(node, cst.Assign) else node.iter
                if self.holds(value):
                    self.names.update(_target_names(target))
            if len(self.names) == before:
                break

    def holds(self, node: cst.CSTNode, depth: int = 0) -> bool:
        if depth > MAX_DEPTH:
            return True
        if isinstance(node, cst.Name):
            return node.value in self.names
        if isinstance(node, cst.Attribute):
            if node.attr.value in TYPE_ATTRIBUTES:
                return False
            return self.holds(node.value, depth + 1)
        if isinstance(node, cst.Subscript):
            return self.holds(node.value, depth + 1)
        if isinstance(node, cst.Call):
            name = self.module.call_name(node) or ""
            if name.startswith(INTRINSIC_PREFIXES) or (
                isinstance(node.func, cst.Name) and node.func.value in self.computations
            ):
                return True
            if _trace_time_python(name):
                return False
            return any(self.holds(arg.value, depth + 1) for arg in node.args)
        if isinstance(node, (cst.BinaryOperation, cst.BooleanOperation)):
            return self.holds(node.left, depth + 1) or self.holds(node.right, depth + 1)
        if isinstance(node, cst.UnaryOperation):
            return self.holds(node.expression, depth + 1)
        if isinstance(node, (cst.Tuple, cst.List, cst.Set)):
            return any(self.holds(e.value, depth + 1) for e in node.elements)
        return False


MAX_ROUNDS = 20
MAX_DEPTH = 40


def _target_names(target: cst.CSTNode) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _target_names(element.value)


def _trace_time_python(name: str) -> bool:
    return (
        name in TRACE_TIME_PYTHON
        or name.startswith(("logging.", "absl.logging."))
        or name.startswith(TRACE_TIME_TENSORFLOW)
    )


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
    placed: _Placed | None,
) -> Finding | None:
    """A finding for a call the body must not make, or None.

    TensorFlow ops are reported in every federated computation (structure
    and dtype utilities such as `tf.nest` are trace-time Python). In a
    strict body (the metric aggregation, a generated module) any other
    call that is no intrinsic, structure or computation in scope is
    reported when it takes a placed value, unless it is trace-time Python
    (`len`, `isinstance`, logging).
    """
    name = module.call_name(node) or ""
    if name.startswith(INTRINSIC_PREFIXES) or name in STRUCTURES:
        return None
    if isinstance(node.func, cst.Name) and node.func.value in computations:
        return None
    if _makes_computation(module, node.func) or _makes_computation(module, node):
        return None
    if name.startswith("tensorflow."):
        if name.startswith(TRACE_TIME_TENSORFLOW):
            return None
        what = f"TensorFlow op `{module.code_for(node.func)}`"
    elif (
        placed is None
        or _trace_time_python(name)
        or not (
            any(placed.holds(arg.value) for arg in node.args)
            or (isinstance(node.func, cst.Attribute) and placed.holds(node.func.value))
        )
    ):
        return None
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


# -- metric structures ---------------------------------------------------------


def _metric_structures(module: SourceModule, model: ModelClass) -> Iterator[Finding]:
    structures: dict[str, tuple[cst.CSTNode, list[tuple[str, cst.CSTNode]]]] = {}
    aggregation: cst.FunctionDef | None = None
    for name in METRIC_METHODS:
        function = model.members.get(name)
        if function is None:
            continue
        if name == "federated_output_computation":
            function = _aggregation_of(module, model, function)
            if function is None:
                continue
            aggregation = function
        if name in METRIC_METHODS[:2]:
            yield from _plain_dicts(module, model, name, function)
        found = _structure(module, model, function)
        if found is not None:
            structures[name] = found
    for name, (_, keys) in structures.items():
        seen: set[str] = set()
        for key, node in keys:
            if key in seen:
                yield module.finding(
                    node, CODE, f"metric `{key}` appears twice in `{name}`"
                )
            seen.add(key)
    if module.generated:
        yield from _all_agree(module, structures)
        return
    yield from _pair(
        module,
        model,
        structures,
        "report_local_unfinalized_metrics",
        "metric_finalizers",
    )
    yield from _classic_pair(module, model, structures, aggregation)


def _plain_dicts(
    module: SourceModule, model: ModelClass, name: str, function: cst.FunctionDef
) -> Iterator[Finding]:
    scope = Scope(module, function)
    for ret in module.returns(function):
        if ret.value is None:
            continue
        value = resolve_local(ret.value, scope)
        if (
            isinstance(value, (cst.Dict, cst.DictComp))
            or module.call_name(value) == "dict"
        ):
            yield module.finding(
                value,
                CODE,
                f"`{name}` returns a plain dict; TFF's FedAvg requires "
                f"`collections.OrderedDict`{model.judged_by}",
            )


def _aggregation_of(
    module: SourceModule, model: ModelClass, prop: cst.FunctionDef
) -> cst.FunctionDef | None:
    """The federated computation `federated_output_computation` returns: one it
    defines, or a module-level one it names."""
    inner = [
        f
        for f in module.findall(prop.body, m.FunctionDef())
        if FEDERATED_COMPUTATION in module.decorator_names(f)  # type: ignore[arg-type]
    ]
    if inner:
        return inner[0]  # type: ignore[return-value]
    for ret in module.returns(prop):
        if isinstance(ret.value, cst.Name):
            found = module.functions.get(ret.value.value)
            if found is not None and FEDERATED_COMPUTATION in module.decorator_names(
                found
            ):
                return found
    return None


def _structure(
    module: SourceModule,
    model: ModelClass,
    function: cst.FunctionDef,
    seen: set[int] | None = None,
) -> tuple[cst.CSTNode, list[tuple[str, cst.CSTNode]]] | None:
    """(node, keys) of the mapping `function` returns, following a helper method
    or module-level function it returns the result of, and an `OrderedDict()`
    filled key by key before it is returned."""
    seen = set() if seen is None else seen
    if id(function) in seen or len(seen) > 8:
        return None
    seen.add(id(function))
    scope = Scope(module, function)
    for ret in module.returns(function):
        if ret.value is None:
            continue
        value = resolve_local(ret.value, scope)
        keys = structure_keys(module, value)
        if keys is not None:
            filled = _filled(module, function, ret.value, keys)
            if filled is not None:
                return value, filled
            continue
        if isinstance(value, cst.Call):
            callee = called_function(module, model, value)
            if callee is not None:
                found = _structure(module, model, callee, seen)
                if found is not None:
                    return found
    return None


def _filled(
    module: SourceModule,
    function: cst.FunctionDef,
    returned: cst.CSTNode,
    keys: list[tuple[str, cst.CSTNode]],
) -> list[tuple[str, cst.CSTNode]] | None:
    """`keys` plus the literal keys `name[...] = ...` adds to the returned name;
    None when it is filled in a way that cannot be told (a computed key, `update`)."""
    if not isinstance(returned, cst.Name):
        return keys
    name = returned.value
    added = list(keys)
    for node in module.findall(function, m.Subscript(value=m.Name(name))):
        parent = module.parent(module.parent(node))
        if not isinstance(parent, cst.Assign):
            continue
        key = _literal_key(node)  # type: ignore[arg-type]
        if key is None:
            return None
        added.append((key, node))
    for call in module.findall(function, m.Call(func=m.Attribute(value=m.Name(name)))):
        if call.func.attr.value in ("update", "setdefault", "pop", "__setitem__"):  # type: ignore[union-attr]
            return None
    return added


def _literal_key(node: cst.Subscript) -> str | None:
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    value = node.slice[0].slice.value
    return value.evaluated_value if isinstance(value, cst.SimpleString) else None  # type: ignore[return-value]


def _pair(
    module: SourceModule,
    model: ModelClass,
    structures: dict[str, tuple[cst.CSTNode, list[tuple[str, cst.CSTNode]]]],
    reported: str,
    finalized: str,
) -> Iterator[Finding]:
    """The unfinalized metrics and their finalizers have identical keys
    (reported at the finalizers, which TFF matches against the metrics)."""
    if reported not in structures or finalized not in structures:
        return
    have = {key for key, _ in structures[reported][1]}
    final = {key for key, _ in structures[finalized][1]}
    node = structures[finalized][0]
    if have - final:
        yield module.finding(
            node,
            CODE,
            f"`{finalized}` lacks metric key(s) "
            f"{', '.join(f'`{k}`' for k in sorted(have - final))} that {reported} has"
            f"{model.judged_by}",
        )
    if final - have:
        yield module.finding(
            node,
            CODE,
            f"`{finalized}` has metric key(s) "
            f"{', '.join(f'`{k}`' for k in sorted(final - have))} that {reported} lacks"
            f"{model.judged_by}",
        )


def _classic_pair(
    module: SourceModule,
    model: ModelClass,
    structures: dict[str, tuple[cst.CSTNode, list[tuple[str, cst.CSTNode]]]],
    aggregation: cst.FunctionDef | None,
) -> Iterator[Finding]:
    """Every key `report_local_outputs` reports is aggregated or read by the
    federated aggregation.

    The classic aggregation need not have the same keys: a local output may
    only weight another (`num_examples_float` in `federated_mean(...,
    weight=...)`), and the server may report a metric under a new name. A key
    it neither outputs nor reads is dropped.
    """
    local = structures.get("report_local_outputs")
    if local is None or aggregation is None:
        return
    params = [*aggregation.params.posonly_params, *aggregation.params.params]
    if len(params) != 1:
        return
    outputs = structures.get("federated_output_computation")
    if outputs is None:
        return
    read = _keys_read(module, aggregation, params[0].name.value)
    if read is None:
        return  # the whole structure is passed on: every key is used
    output_keys = {key for key, _ in outputs[1]}
    dropped = [key for key, _ in local[1] if key not in read and key not in output_keys]
    if dropped:
        yield module.finding(
            outputs[0],
            CODE,
            f"`federated_output_computation` drops metric key(s) "
            f"{', '.join(f'`{k}`' for k in dropped)} that report_local_outputs reports; "
            f"aggregate each across clients{model.judged_by}",
        )


def _keys_read(
    module: SourceModule, function: cst.FunctionDef, param: str
) -> set[str] | None:
    """The keys `function` reads from its parameter (`p.key`, `p["key"]`), or None
    when it uses the parameter whole (or in a way that cannot be told)."""
    keys: set[str] = set()
    for node in module.findall(function.body, m.Name(param)):
        parent = module.parent(node)
        if isinstance(parent, cst.Attribute) and parent.value is node:
            keys.add(parent.attr.value)
        elif isinstance(parent, cst.Subscript) and parent.value is node:
            key = _literal_key(parent)
            if key is None:
                return None
            keys.add(key)
        elif not (
            isinstance(parent, cst.Arg)
            and _trace_time_python(module.call_name(module.parent(parent)) or "")
        ):
            return None
    return keys


def _all_agree(
    module: SourceModule,
    structures: dict[str, tuple[cst.CSTNode, list[tuple[str, cst.CSTNode]]]],
) -> Iterator[Finding]:
    """A generated module: every metric structure has the same keys."""
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
