"""WG201 variables: variables are made in `__init__`, listed once, and metrics reset them all.

TFF builds a model inside its own graphs by calling `model_fn`; every
`tf.Variable` must exist once the constructor returns, so that
`trainable_variables`, `non_trainable_variables` and `local_variables` describe
the whole model. A variable created later, in a method (or in a module-level
helper that a method other than `__init__` calls), is created again on each
trace, is missing from the weights TFF sends, and fails inside `tf.function`.
A variable at module level is shared by every model `model_fn` returns.
Each variable the constructor creates belongs to exactly one collection:
unlisted, it is never trained, sent or reset; listed twice, TFF aggregates it
twice. `reset_metrics` must zero every local variable, or metrics leak from
one round into the next.
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

CODE = "WG201"
NAME = "variables"
MESSAGE = "a variable is created outside `__init__`, not listed in exactly one collection, or not reset"

VALID = (
    """\
import tensorflow as tf
import tensorflow_federated as tff


def _make_weights():
    return tf.Variable(tf.zeros([3]), name="w")


class Model(tff.learning.models.VariableModel):
    def __init__(self):
        self._w = _make_weights()
        self._count = tf.Variable(0, name="count")
        self._slots = [tf.Variable(tf.zeros_like(v)) for v in [self._w]]

    @property
    def trainable_variables(self):
        return [self._w]

    @property
    def non_trainable_variables(self):
        return []

    @property
    def local_variables(self):
        return [self._count, *self._slots]

    def reset_metrics(self):
        for variable in self.local_variables:
            variable.assign(tf.zeros_like(variable))
""",
    """\
import tensorflow as tf
import tensorflow_federated as tff


class Model(tff.learning.models.VariableModel):
    def __init__(self):
        self._w = tf.Variable(tf.zeros([3]))
        self._total = tf.Variable(0.0)
        self._count = tf.Variable(0.0)

    @property
    def trainable_variables(self):
        return [self._w]

    @property
    def non_trainable_variables(self):
        return []

    @property
    def local_variables(self):
        return [self._total, self._count]

    def reset_metrics(self):
        self._total.assign(0.0)
        self._count.assign(0.0)
""",
)

INVALID = (
    # Created in a method.
    (
        16,
        27,
        """\
import tensorflow as tf
import tensorflow_federated as tff


class Model(tff.learning.models.VariableModel):
    def __init__(self):
        self._w = tf.Variable(tf.zeros([3]))

    @property
    def trainable_variables(self):
        return [self._w]

    def forward_pass(self, batch_input, training=True):
        del training
        if not hasattr(self, "_scale"):
            self._scale = tf.Variable(1.0)
        return batch_input * self._scale
""",
    ),
    # Created in a module-level helper that a method calls.
    (
        6,
        12,
        """\
import tensorflow as tf
import tensorflow_federated as tff


def _scratch():
    return tf.Variable(0.0)


class Model(tff.learning.models.VariableModel):
    def __init__(self):
        self._w = tf.Variable(tf.zeros([3]))

    @property
    def trainable_variables(self):
        return [self._w]

    def forward_pass(self, batch_input, training=True):
        return batch_input + _scratch()
""",
    ),
    # A variable in no collection.
    (
        8,
        9,
        """\
import tensorflow as tf
import tensorflow_federated as tff


class Model(tff.learning.models.VariableModel):
    def __init__(self):
        self._w = tf.Variable(tf.zeros([3]))
        self._b = tf.Variable(tf.zeros([1]))

    @property
    def trainable_variables(self):
        return [self._w]

    @property
    def non_trainable_variables(self):
        return []

    @property
    def local_variables(self):
        return []
""",
    ),
    # A variable in two collections: reported where it is listed again.
    (
        20,
        17,
        """\
import tensorflow as tf
import tensorflow_federated as tff


class Model(tff.learning.models.VariableModel):
    def __init__(self):
        self._w = tf.Variable(tf.zeros([3]))
        self._count = tf.Variable(0)

    @property
    def trainable_variables(self):
        return [self._w]

    @property
    def non_trainable_variables(self):
        return []

    @property
    def local_variables(self):
        return [self._w, self._count]
""",
    ),
    # reset_metrics forgets a local variable.
    (
        22,
        9,
        """\
import tensorflow as tf
import tensorflow_federated as tff


class Model(tff.learning.models.VariableModel):
    def __init__(self):
        self._total = tf.Variable(0.0)
        self._count = tf.Variable(0.0)

    @property
    def trainable_variables(self):
        return []

    @property
    def non_trainable_variables(self):
        return []

    @property
    def local_variables(self):
        return [self._total, self._count]

    def reset_metrics(self):
        self._total.assign(0.0)
""",
    ),
    # A variable at module level is shared by every model instance.
    (
        5,
        10,
        """\
import tensorflow as tf
import tensorflow_federated as tff


SHARED = tf.Variable(0.0)


class Model(tff.learning.models.VariableModel):
    @property
    def local_variables(self):
        return [SHARED]
""",
    ),
)


def check(module: SourceModule) -> Iterator[Finding]:
    if not module.models:
        return
    for statement in module.tree.body:
        if not isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            for call in module.findall(statement, m.Call()):
                if module.is_variable_constructor(call):
                    yield module.finding(
                        call,
                        CODE,
                        "variable created at module level is shared by every model "
                        "`model_fn` returns; create it in `__init__`",
                    )
    reported: set[int] = set()
    for model in module.models:
        yield from _created_outside_init(module, model, reported)
        yield from _listed_once(module, model)
        yield from _reset_all(module, model)


def _created_outside_init(
    module: SourceModule, model: ModelClass, reported: set[int]
) -> Iterator[Finding]:
    for name in model.members:
        if name == "__init__":
            continue
        for where, function in model.reachable(name):
            if where in model.members and where != name:
                continue  # reported when that method is the start
            for call in module.findall(function, m.Call()):
                if module.is_variable_constructor(call) and id(call) not in reported:
                    reported.add(id(call))
                    via = "" if where == name else f" (in `{where}`, called from it)"
                    yield module.finding(
                        call,
                        CODE,
                        f"variable created in `{name}`{via}; create every variable in `__init__`",
                    )


def _listed_once(module: SourceModule, model: ModelClass) -> Iterator[Finding]:
    if not model.listings:
        return
    seen: dict[str, str] = {}
    for collection, paths in model.listings.items():
        for path, node in paths:
            if path in seen:
                where = (
                    "twice in `" + collection + "`"
                    if seen[path] == collection
                    else f"in both `{seen[path]}` and `{collection}`"
                )
                yield module.finding(
                    node,
                    CODE,
                    f"`self.{path}` is listed {where}; list each variable once",
                )
            else:
                seen[path] = collection
    for root, target in model.variable_roots.items():
        if model.collection_of(root) is None:
            yield module.finding(
                target,
                CODE,
                f"variable `self.{root}` is in none of trainable_variables, "
                "non_trainable_variables, local_variables",
            )


def _reset_all(module: SourceModule, model: ModelClass) -> Iterator[Finding]:
    if "reset_metrics" not in model.members or "local_variables" not in model.listings:
        return
    covered: set[str] = set()
    for _, function in model.reachable("reset_metrics"):
        for call in module.findall(function, _SELF_CALL):
            if call.func.attr.value not in model.members:
                return  # calls something on self it cannot follow: no claim
        scope = Scope(module, function)
        receivers = [receiver for _, receiver in assignments_in(module, function)]
        receivers += [
            call.func.value for call in module.findall(function, _RESET_STATE)
        ]
        for receiver in receivers:
            paths = model.paths_of(receiver, scope) if receiver is not None else None
            if paths is None:
                if module.findall(function, _LOCAL_VARIABLES):
                    return  # e.g. tf.nest.map_structure over self.local_variables
                continue
            if "local_variables" in paths:
                return  # resets the whole collection
            covered |= paths
    function = model.members["reset_metrics"]
    for path, _ in model.listings["local_variables"]:
        if not any(path == p or path.startswith(p + ".") for p in covered):
            yield module.finding(
                function.name,
                CODE,
                f"`reset_metrics` does not reset local variable `self.{path}`",
            )


_SELF_CALL = m.Call(func=m.Attribute(value=m.Name("self")))
_RESET_STATE = m.Call(
    func=m.Attribute(attr=m.Name("reset_state") | m.Name("reset_states"))
)
_LOCAL_VARIABLES = m.Attribute(value=m.Name("self"), attr=m.Name("local_variables"))
