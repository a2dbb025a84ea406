"""WG301 forward-pass: `forward_pass` changes no model weight, returns a full BatchOutput, reads declared inputs.

TFF's contract: `forward_pass` computes the loss and predictions of one batch
and may update local (metric) variables, but must never modify a trainable or
non-trainable variable; evaluation (`build_fed_eval`) and the server rely on
it. The pass follows every variable write (`assign`, `assign_add`,
`assign_sub`, `scatter_*`, the `tf.compat.v1` and `tf.raw_ops` assign
functions, `apply_gradients`) in `forward_pass` and in each method or
module-level function it calls, through local names, `for` loops over a
collection, `zip(...)`, and containers (a namedtuple's fields, a dict's keys,
lists and tuples) handed to helpers: a helper's parameter is bound by the
arguments (by position or keyword) of every call to it from the class, as
the 2019 tutorial's `mnist_forward_pass(self._variables, batch)` does. A
write that reaches a trainable or non-trainable variable, or a variable no
collection lists, is reported with what it writes; a receiver that cannot
be followed at all (a parameter only TFF calls, a lambda's argument) is
left alone rather than guessed at.
`forward_pass` must return `tff.learning.models.BatchOutput` with `loss`,
`predictions` and `num_examples` (FedAvg weights clients by `num_examples`),
and may read from its batch only the keys `input_spec` declares. Classic
models (`tff.learning.Model` with `report_local_outputs`, 2019-2021) need only
`loss` and `predictions`: `num_examples` came in TFF 0.9 (2019-08).
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from codegen.passes import match as m
from codegen.passes.analysis import (
    GENERATIONS,
    Finding,
    ModelClass,
    Scope,
    SourceModule,
    assignments_in,
    called_function,
    resolve_local,
    structure_keys,
)

CODE = "WG301"
NAME = "forward-pass"
MESSAGE = "forward_pass writes a model weight, returns an incomplete BatchOutput, or reads an undeclared input"

BATCH_OUTPUT_FIELDS = ("loss", "predictions", "num_examples")

VALID = (
    """\
import collections

import tensorflow as tf
import tensorflow_federated as tff

INPUT_SPEC = collections.OrderedDict(
    x=tf.TensorSpec([None, 2], tf.float32), y=tf.TensorSpec([None, 1], tf.float32)
)


class Model(tff.learning.models.VariableModel):
    def __init__(self):
        self._w = tf.Variable(tf.zeros([2, 1]))
        self._loss_sum = tf.Variable(0.0)
        self._seen = tf.Variable(0)

    @property
    def trainable_variables(self):
        return [self._w]

    @property
    def local_variables(self):
        return [self._loss_sum, self._seen]

    @property
    def input_spec(self):
        return INPUT_SPEC

    def predict_on_batch(self, x, training=True):
        return tf.matmul(x, self._w)

    def forward_pass(self, batch_input, training=True):
        predictions = self.predict_on_batch(batch_input["x"], training)
        loss = tf.reduce_mean(tf.square(predictions - batch_input["y"]))
        self._count(tf.shape(predictions)[0])
        self._loss_sum.assign_add(loss)
        output = tff.learning.models.BatchOutput(
            loss=loss, predictions=predictions, num_examples=tf.shape(predictions)[0]
        )
        return output

    def _count(self, n):
        for variable in self.local_variables[1:]:
            variable.assign_add(n)
""",
)

_MODEL = """\
import tensorflow as tf
import tensorflow_federated as tff


class Model(tff.learning.models.VariableModel):
    def __init__(self):
        self._w = tf.Variable(tf.zeros([2, 1]))
        self._loss_sum = tf.Variable(0.0)

    @property
    def trainable_variables(self):
        return [self._w]

    @property
    def local_variables(self):
        return [self._loss_sum]

    @property
    def input_spec(self):
        return {"x": tf.TensorSpec([None, 2]), "y": tf.TensorSpec([None, 1])}

    def forward_pass(self, batch_input, training=True):
        predictions = tf.matmul(batch_input["x"], self._w)
        loss = tf.reduce_mean(tf.square(predictions - batch_input["y"]))
"""
_RETURN = (
    "        return tff.learning.models.BatchOutput(\n"
    "            loss=loss, predictions=predictions, num_examples=tf.shape(predictions)[0]\n"
    "        )\n"
)

INVALID = (
    # A direct write to a trainable variable.
    (25, 9, _MODEL + "        self._w.assign_add(tf.ones([2, 1]))\n" + _RETURN),
    # A write through the collection property.
    (
        25,
        9,
        _MODEL
        + "        self.trainable_variables[0].assign(self._w * 0.9)\n"
        + _RETURN,
    ),
    # A write through a loop over the weights.
    (
        26,
        13,
        _MODEL
        + "        for weight in self.weights.trainable:\n"
        + "            weight.assign_sub(0.1 * weight)\n"
        + _RETURN,
    ),
    # A write hidden in a private helper that forward_pass calls.
    (
        31,
        9,
        _MODEL
        + "        self._decay()\n"
        + _RETURN
        + "\n    def _decay(self):\n"
        + "        self._w.assign(self._w * 0.99)\n",
    ),
    # BatchOutput without num_examples.
    (
        25,
        16,
        _MODEL
        + "        return tff.learning.models.BatchOutput(loss=loss, predictions=predictions)\n",
    ),
    # Not a BatchOutput at all.
    (25, 16, _MODEL + "        return loss, predictions\n"),
    # Reads a key that input_spec does not declare.
    (25, 30, _MODEL + '        weight = batch_input["w"]\n' + _RETURN),
)


def check(module: SourceModule) -> Iterator[Finding]:
    for model in module.models:
        if "forward_pass" in model.members and not model.inherits_from_model(
            "forward_pass"
        ):
            yield from _purity(module, model)
            yield from _batch_output(module, model)
            yield from _input_keys(module, model)


def _purity(module: SourceModule, model: ModelClass) -> Iterator[Finding]:
    """Writes in `forward_pass` and what it calls go only to local variables.

    A receiver followed to `self.<path>`s (through names, loops, helpers'
    parameters bound by their calls, namedtuple fields and dict keys) is
    judged by the collection that lists it; one that cannot be followed
    (a parameter of a function only TFF or other code calls, a lambda's
    argument) is left alone rather than guessed at.
    """
    for label, function in model.reachable("forward_pass"):
        scope = model.scope(function)
        where = (
            "`forward_pass`"
            if label == "forward_pass"
            else f"`{label}` (called from forward_pass)"
        )
        for call, receiver in assignments_in(module, function):
            kind = model.classify(receiver, scope) if receiver is not None else None
            if kind is not None and (kind.is_local or not kind.resolved):
                continue
            target = (
                module.code_for(receiver)
                if receiver is not None
                else module.code_for(call)
            )
            if kind is None:
                message = (
                    f"{where} applies gradients to `{target}`, which is not shown to "
                    "be a local variable; it may change only local variables"
                )
            elif kind.collection is not None:
                message = (
                    f"{where} writes to {kind.description} (`{target}`); it may "
                    "change only local variables"
                )
            else:
                message = (
                    f"{where} writes to `{target}`, {kind.description} (not shown to be "
                    "a local variable); it may change only local variables"
                )
            yield module.finding(call, CODE, message + model.judged_by)


def _batch_output(module: SourceModule, model: ModelClass) -> Iterator[Finding]:
    yield from _check_returns(module, model, model.members["forward_pass"], set())


def _check_returns(
    module: SourceModule, model: ModelClass, function: cst.FunctionDef, seen: set[str]
) -> Iterator[Finding]:
    seen.add(function.name.value)
    scope = Scope(module, function)
    for ret in module.returns(function):
        value = resolve_local(ret.value, scope) if ret.value is not None else None
        if isinstance(value, cst.Call):
            name = module.call_name(value) or ""
            if name.split(".")[-1] == "BatchOutput":
                given = {
                    arg.keyword.value if arg.keyword else BATCH_OUTPUT_FIELDS[i]
                    for i, arg in enumerate(value.args)
                    if arg.keyword or i < len(BATCH_OUTPUT_FIELDS)
                }
                required, label = _required_fields(model)
                missing = [f for f in required if f not in given]
                if missing:
                    yield module.finding(
                        value,
                        CODE,
                        f"`forward_pass` returns a BatchOutput without "
                        f"{', '.join(f'`{f}`' for f in missing)}, which {label} requires",
                    )
                continue
            callee = called_function(module, model, value)
            if callee is not None and callee.name.value not in seen:
                yield from _check_returns(module, model, callee, seen)
            continue
        if (
            value is None
            or isinstance(
                value,
                (
                    cst.Tuple,
                    cst.List,
                    cst.Dict,
                    cst.BaseNumber,
                    cst.BaseString,
                    cst.DictComp,
                ),
            )
            or m.matches(value, m.Name("None"))
        ):
            yield module.finding(
                ret.value if ret.value is not None else ret,
                CODE,
                "`forward_pass` must return `tff.learning.models.BatchOutput(loss=..., "
                "predictions=..., num_examples=...)`",
            )


def _required_fields(model: ModelClass) -> tuple[tuple[str, ...], str]:
    """The BatchOutput fields the model's generation requires, and that generation's name.

    Classic code may predate `num_examples` (TFF 0.9, 2019-08), so only
    `loss` and `predictions` are required of it, and of a class whose
    generation cannot be told.
    """
    generation = model.generation
    if generation is None:
        return BATCH_OUTPUT_FIELDS[:2], "every generation of TFF's model contract"
    fields = (
        BATCH_OUTPUT_FIELDS[:2]
        if generation in ("classic", "trainable")
        else BATCH_OUTPUT_FIELDS
    )
    return fields, f"the contract of {GENERATIONS[generation]}"


def _input_keys(module: SourceModule, model: ModelClass) -> Iterator[Finding]:
    declared = _declared_keys(module, model)
    function = model.members["forward_pass"]
    params = [*function.params.posonly_params, *function.params.params]
    if declared is None or len(params) < 2:
        return
    batch = params[1].name.value
    for node in module.findall(function, m.Subscript(value=m.Name(batch))):
        assert isinstance(node, cst.Subscript)
        key = _string_index(node)
        if key is not None and key[0] not in declared:
            yield module.finding(
                key[1],
                CODE,
                f"`forward_pass` reads batch key {key[0]!r}, which `input_spec` does not "
                f"declare (declared: {', '.join(sorted(declared))})",
            )


def _string_index(node: cst.Subscript) -> tuple[str, cst.CSTNode] | None:
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    value = node.slice[0].slice.value
    if isinstance(value, cst.SimpleString):
        return value.evaluated_value, value  # type: ignore[return-value]
    return None


def _declared_keys(module: SourceModule, model: ModelClass) -> set[str] | None:
    function = model.members.get("input_spec")
    if function is None:
        return None
    found = module.returns(function)
    if len(found) != 1 or found[0].value is None:
        return None
    value = found[0].value
    for _ in range(5):
        if isinstance(value, cst.Name) and value.value in module.assignments:
            value = module.assignments[value.value]
        else:
            break
    keys = structure_keys(module, value)
    return None if keys is None else {key for key, _ in keys}
