"""WG401 train-on-batch: one taped forward pass, gradients of the trainable variables, updates to them only.

The classic `tff.learning.TrainableModel.train_on_batch(batch_input)` is
"like `forward_pass`, but also updates the trainable variables". To get
gradients that reach the weights, the loss must come from `self.forward_pass`
recorded under `with tf.GradientTape() as tape:`; `tape.gradient` must take
`self.trainable_variables` (a gradient for a non-trainable or local variable
trains what TFF treats as fixed). Updates may touch only trainable variables
and the optimizer's slot variables, which live in `local_variables` so TFF
never sends them. The method returns the forward pass's `BatchOutput`, so
callers see the loss and example count of the batch they trained on.
Graph-mode code (TFF 0.1-0.13) may instead call
`optimizer.minimize(loss, var_list=self.trainable_variables)` or Keras'
`get_updates(loss=..., params=...)` on the forward pass's loss: the optimizer
takes the gradients itself. A wrapper that hands the batch to the
`train_on_batch` of the model it wraps is checked where that model is.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from codegen.passes import match as m
from codegen.passes.analysis import (
    Finding,
    ModelClass,
    SourceModule,
    assignments_in,
)

CODE = "WG401"
NAME = "train-on-batch"
MESSAGE = (
    "train_on_batch does not train the trainable variables through a taped forward_pass"
)

_FORWARD = m.Call(func=m.Attribute(value=m.Name("self"), attr=m.Name("forward_pass")))

VALID = (
    """\
import tensorflow as tf
import tensorflow_federated as tff


class Model(tff.learning.models.VariableModel):
    def __init__(self):
        self._w = tf.Variable(tf.zeros([2, 1]))
        self._velocity = [tf.Variable(tf.zeros_like(self._w))]

    @property
    def trainable_variables(self):
        return [self._w]

    @property
    def local_variables(self):
        return [*self._velocity]

    def train_on_batch(self, batch_input):
        with tf.GradientTape() as tape:
            output = self.forward_pass(batch_input, training=True)
        gradients = tape.gradient(output.loss, self.trainable_variables)
        for variable, gradient, velocity in zip(
            self.trainable_variables, gradients, self._velocity
        ):
            velocity.assign(0.9 * velocity + gradient)
            variable.assign_sub(0.1 * velocity)
        return output
""",
    """\
import tensorflow as tf
import tensorflow_federated as tff


class Model(tff.learning.models.VariableModel):
    def __init__(self):
        self._optimizer = tf.keras.optimizers.SGD(0.1)

    def train_on_batch(self, batch_input):
        with tf.GradientTape() as tape:
            output = self.forward_pass(batch_input)
        grads = tape.gradient(output.loss, self.weights.trainable)
        self._optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return output
""",
)

_HEAD = """\
import tensorflow as tf
import tensorflow_federated as tff


class Model(tff.learning.models.VariableModel):
    def __init__(self):
        self._w = tf.Variable(tf.zeros([2, 1]))
        self._steps = tf.Variable(0)

    @property
    def trainable_variables(self):
        return [self._w]

    @property
    def non_trainable_variables(self):
        return [self._steps]

    def train_on_batch(self, batch_input):
"""

INVALID = (
    # The forward pass runs outside the tape: reported at the `with`.
    (
        20,
        9,
        _HEAD
        + "        output = self.forward_pass(batch_input)\n"
        + "        with tf.GradientTape() as tape:\n"
        + "            loss = output.loss * 1.0\n"
        + "        grads = tape.gradient(loss, self.trainable_variables)\n"
        + "        self._w.assign_sub(0.1 * grads[0])\n"
        + "        return output\n",
    ),
    # Gradients with respect to every weight, including the non-trainable step counter.
    (
        21,
        44,
        _HEAD
        + "        with tf.GradientTape() as tape:\n"
        + "            output = self.forward_pass(batch_input)\n"
        + "        grads = tape.gradient(output.loss, self.weights)\n"
        + "        self._w.assign_sub(0.1 * grads[0])\n"
        + "        return output\n",
    ),
    # An update to a non-trainable variable.
    (
        23,
        9,
        _HEAD
        + "        with tf.GradientTape() as tape:\n"
        + "            output = self.forward_pass(batch_input)\n"
        + "        grads = tape.gradient(output.loss, self.trainable_variables)\n"
        + "        self._w.assign_sub(0.1 * grads[0])\n"
        + "        self._steps.assign_add(1)\n"
        + "        return output\n",
    ),
    # Returns something other than the forward pass's output.
    (
        23,
        16,
        _HEAD
        + "        with tf.GradientTape() as tape:\n"
        + "            output = self.forward_pass(batch_input)\n"
        + "        grads = tape.gradient(output.loss, self.trainable_variables)\n"
        + "        self._w.assign_sub(0.1 * grads[0])\n"
        + "        return output.loss\n",
    ),
    # No tape at all.
    (
        18,
        9,
        _HEAD
        + "        output = self.forward_pass(batch_input)\n"
        + "        return output\n",
    ),
)


def check(module: SourceModule) -> Iterator[Finding]:
    for model in module.models:
        function = model.members.get("train_on_batch")
        if function is not None and not model.inherits_from_model("train_on_batch"):
            yield from _check(module, model, function)


def _check(
    module: SourceModule, model: ModelClass, function: cst.FunctionDef
) -> Iterator[Finding]:
    scope = model.scope(function)
    if _delegates(module, function):
        return  # a wrapper (`EnhancedModel`) checked where the wrapped model is
    forward = _forward_call(model)
    tapes = [
        node
        for node in module.findall(function, m.With())
        if any(
            module.call_name(item.item) == "tensorflow.GradientTape"
            for item in node.items
        )  # type: ignore[union-attr]
    ]
    outputs = {
        target.target.value
        for assign in module.findall(function, m.Assign(value=forward))
        for target in assign.targets  # type: ignore[union-attr]
        if isinstance(target.target, cst.Name)
    }
    if not tapes:
        steps = module.findall(function, _GRAPH_STEP)
        if not steps:
            yield module.finding(
                function.name,
                CODE,
                "`train_on_batch` must run `self.forward_pass` inside `with "
                f"tf.GradientTape() as tape:`{model.judged_by}",
            )
            return
        yield from _graph_steps(module, model, function, scope, steps, forward)
        yield from _updates_and_returns(module, model, function, outputs)
        return
    if not any(module.findall(tape.body, forward) for tape in tapes):
        yield module.finding(
            tapes[0],
            CODE,
            "`train_on_batch` does not call `self.forward_pass` inside its "
            f"`tf.GradientTape` block{model.judged_by}",
        )
    tape_names = {
        item.asname.name.value
        for tape in tapes
        for item in tape.items  # type: ignore[union-attr]
        if item.asname is not None and isinstance(item.asname.name, cst.Name)
    }
    gradients = [
        call
        for call in module.findall(
            function, m.Call(func=m.Attribute(attr=m.Name("gradient")))
        )
        if m.matches(call.func.value, m.Name()) and call.func.value.value in tape_names  # type: ignore[union-attr]
    ]
    if not gradients:
        yield module.finding(
            tapes[0],
            CODE,
            "`train_on_batch` takes no gradient from its `tf.GradientTape`",
        )
    for call in gradients:
        assert isinstance(call, cst.Call)
        sources = [
            a.value for a in call.args if a.keyword and a.keyword.value == "sources"
        ]
        sources += [a.value for a in call.args[1:2] if a.keyword is None]
        for source in sources:
            kind = model.classify(source, scope)
            if kind.resolved and kind.collection != "trainable_variables":
                yield module.finding(
                    source,
                    CODE,
                    f"gradients are taken with respect to `{module.code_for(source)}`, "
                    f"{kind.description}, not `self.trainable_variables`"
                    f"{model.judged_by}",
                )
    yield from _updates_and_returns(module, model, function, outputs)


def _updates_and_returns(
    module: SourceModule,
    model: ModelClass,
    function: cst.FunctionDef,
    outputs: set[str],
) -> Iterator[Finding]:
    forward_labels = {label for label, _ in model.reachable("forward_pass")}
    for label, body in model.reachable("train_on_batch"):
        if label in forward_labels:
            continue
        body_scope = model.scope(body)
        for call, receiver in assignments_in(module, body):
            kind = (
                model.classify(receiver, body_scope) if receiver is not None else None
            )
            if kind is not None and (
                kind.collection in ("trainable_variables", "local_variables")
                or not kind.resolved
            ):
                continue
            target = (
                module.code_for(receiver)
                if receiver is not None
                else module.code_for(call)
            )
            what = (
                "a value not shown to be a variable"
                if kind is None
                else kind.description
            )
            yield module.finding(
                call,
                CODE,
                f"`{label}` updates `{target}`, {what}, which is neither a trainable "
                f"variable nor a local (optimizer slot) variable{model.judged_by}",
            )
    for ret in module.returns(function):
        value = ret.value
        if not (isinstance(value, cst.Name) and value.value in outputs):
            yield module.finding(
                value if value is not None else ret,
                CODE,
                "`train_on_batch` must return the output of `self.forward_pass`"
                + model.judged_by,
            )


def _delegates(module: SourceModule, function: cst.FunctionDef) -> bool:
    """Whether `function` hands the batch to another model's `train_on_batch`."""
    return any(
        not m.matches(call.func.value, m.Name("self"))  # type: ignore[union-attr]
        for call in module.findall(
            function, m.Call(func=m.Attribute(attr=m.Name("train_on_batch")))
        )
    )


def _forward_call(model: ModelClass) -> m.Matcher:
    """A call of `self.forward_pass`, or of the method `forward_pass` returns the result of."""
    matcher: m.Matcher = _FORWARD
    function = model.members.get("forward_pass")
    if function is None:
        return matcher
    for ret in model.module.returns(function):
        value = ret.value
        if isinstance(value, cst.Call) and m.matches(
            value.func, m.Attribute(value=m.Name("self"))
        ):
            name = value.func.attr.value  # type: ignore[union-attr]
            if name in model.members and name != "forward_pass":
                matcher = matcher | m.Call(
                    func=m.Attribute(value=m.Name("self"), attr=m.Name(name))
                )
    return matcher


_GRAPH_STEP = m.Call(func=m.Attribute(attr=m.Name("minimize") | m.Name("get_updates")))
"""A graph-mode (TF 1, 2019) optimizer step: it takes the gradients itself, no tape needed."""


def _graph_steps(
    module: SourceModule,
    model: ModelClass,
    function: cst.FunctionDef,
    scope,
    steps: list,
    forward: m.Matcher,
) -> Iterator[Finding]:
    """`optimizer.minimize(loss, var_list=...)` / `get_updates(loss=, params=)` steps.

    Graph-mode code of TFF 0.1-0.13 trained this way: the optimizer
    differentiates the loss itself. The loss must come from the forward
    pass and the variables must be the trainable ones.
    """
    if not module.findall(function, forward):
        yield module.finding(
            steps[0],
            CODE,
            "`train_on_batch` minimizes a loss that does not come from "
            f"`self.forward_pass`{model.judged_by}",
        )
    for call in steps:
        keyword = "var_list" if call.func.attr.value == "minimize" else "params"
        given = [a.value for a in call.args if a.keyword and a.keyword.value == keyword]
        given += [a.value for a in call.args[1:2] if a.keyword is None]
        for source in given:
            kind = model.classify(source, scope)
            if kind.resolved and kind.collection != "trainable_variables":
                yield module.finding(
                    source,
                    CODE,
                    f"the optimizer step trains `{module.code_for(source)}`, "
                    f"{kind.description}, not `self.trainable_variables`{model.judged_by}",
                )
