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
        if function is not None:
            yield from _check(module, model, function)


def _check(
    module: SourceModule, model: ModelClass, function: cst.FunctionDef
) -> Iterator[Finding]:
    scope = Scope(module, function)
    tapes = [
        node
        for node in module.findall(function, m.With())
        if any(
            module.call_name(item.item) == "tensorflow.GradientTape"
            for item in node.items
        )  # type: ignore[union-attr]
    ]
    if not tapes:
        yield module.finding(
            function.name,
            CODE,
            "`train_on_batch` must run `self.forward_pass` inside `with tf.GradientTape() as tape:`",
        )
        return
    outputs = {
        target.target.value
        for assign in module.findall(function, m.Assign(value=_FORWARD))
        for target in assign.targets  # type: ignore[union-attr]
        if isinstance(target.target, cst.Name)
    }
    if not any(module.findall(tape.body, _FORWARD) for tape in tapes):
        yield module.finding(
            tapes[0],
            CODE,
            "`train_on_batch` does not call `self.forward_pass` inside its `tf.GradientTape` block",
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
            if model.classify(source, scope).collection != "trainable_variables":
                yield module.finding(
                    source,
                    CODE,
                    f"gradients are taken with respect to `{module.code_for(source)}`, "
                    "not `self.trainable_variables`",
                )
    forward_labels = {label for label, _ in model.reachable("forward_pass")}
    for label, body in model.reachable("train_on_batch"):
        if label in forward_labels:
            continue
        body_scope = Scope(module, body)
        for call, receiver in assignments_in(module, body):
            kind = (
                model.classify(receiver, body_scope) if receiver is not None else None
            )
            if kind is not None and kind.collection in (
                "trainable_variables",
                "local_variables",
            ):
                continue
            target = (
                module.code_for(receiver)
                if receiver is not None
                else module.code_for(call)
            )
            yield module.finding(
                call,
                CODE,
                f"`{label}` updates `{target}`, which is neither a trainable variable nor a "
                "local (optimizer slot) variable",
            )
    for ret in module.returns(function):
        value = ret.value
        if not (isinstance(value, cst.Name) and value.value in outputs):
            yield module.finding(
                value if value is not None else ret,
                CODE,
                "`train_on_batch` must return the output of `self.forward_pass`",
            )
