"""WG201 variables: variables are made in `__init__`, listed once, and metrics reset them all.

TFF builds a model inside its own graphs by calling `model_fn`; every
`tf.Variable` must exist once the constructor returns, so that
`trainable_variables`, `non_trainable_variables` and `local_variables` describe
the whole model. A variable created later, in a method (or in a module-level
helper that a method other than `__init__` calls), is created again on each
trace, is missing from the weights TFF sends, and fails inside `tf.function`.
A `_build()` helper that only `__init__` calls (directly or through other
such helpers) runs in the constructor and may create them.
A variable at module level is shared by every model `model_fn` returns.
Each variable the constructor creates belongs to exactly one collection:
unlisted, it is never trained, sent or reset; listed twice, TFF aggregates it
twice; lists in exclusive `return`s of one property (`if flag: return [a,
b, c]` then `return [a, b]`) are separate. `reset_metrics` must zero every
local variable, or metrics leak from one round into the next (a
`reset_metrics` that only raises `NotImplementedError` is an explicit stub,
allowed while TFF 0.20-0.48 made the method optional).
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from codegen.passes import match as m
from codegen.passes.analysis import (
    COLLECTIONS,
    CONTRACT_MEMBERS,
    Finding,
    ModelClass,
    SourceModule,
    assignments_in,
    path_prefixes,
    shown,
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
        if not all(
            model.inherits_from_model(name)
            for name in (*COLLECTIONS, "__init__")
            if name in model.members
        ):  # else checked where the model it inherits them from is
            yield from _listed_once(module, model)
        if not model.inherits_from_model("reset_metrics"):
            yield from _reset_all(module, model)


def _created_outside_init(
    module: SourceModule, model: ModelClass, reported: set[int]
) -> Iterator[Finding]:
    setup = _init_only(module, model)
    seen: set[tuple[str, str]] = set()  # one walk of the call graph for all starts
    for name in model.members:
        if name == "__init__" or name in setup:
            continue
        seen.discard(("self", name))  # its own body, even if reached before
        for (owner, callee), function in model.reached(("self", name), seen):
            if owner == "self" and callee != name:
                continue  # reported when that method is the start
            where = callee if owner == "self" else f"{callee}()"
            for call in module.findall(function, m.Call()):
                if module.is_variable_constructor(call) and id(call) not in reported:
                    reported.add(id(call))
                    via = "" if where == name else f" (in `{where}`, called from it)"
                    yield module.finding(
                        call,
                        CODE,
                        f"variable created in `{name}`{via}; create every variable in "
                        f"`__init__`{model.judged_by}",
                    )


def _init_only(module: SourceModule, model: ModelClass) -> set[str]:
    """Methods that only `__init__` calls, directly or through other such methods.

    A `_build()` helper that `__init__` calls to create the variables runs
    once, in the constructor; a method that anything else calls (or that is
    a property, or a member TFF itself calls) does not.
    """
    calls: dict[str, set[str]] = {}
    for name, function in model.members.items():
        calls[name] = {
            call.func.attr.value  # type: ignore[union-attr]
            for call in module.findall(function, _SELF_CALL)
            if call.func.attr.value in model.members  # type: ignore[union-attr]
        }
    from_init: set[str] = set()
    pending = list(calls.get("__init__", ()))
    while pending:
        name = pending.pop()
        if name not in from_init and name != "__init__":
            from_init.add(name)
            pending.extend(calls.get(name, ()))
    candidates = {
        name
        for name in from_init
        if not name.startswith("__")
        and name not in CONTRACT_MEMBERS
        and not model.is_property(model.members[name])
    }
    callers: dict[str, set[str]] = {}
    for caller, called in calls.items():
        for name in called:
            callers.setdefault(name, set()).add(caller)
    pending = [  # called by something else: not setup, nor what only it calls
        name
        for name in candidates
        if any(c != "__init__" and c not in candidates for c in callers.get(name, ()))
    ]
    while pending:
        name = pending.pop()
        if name in candidates:
            candidates.discard(name)
            pending.extend(calls.get(name, ()))
    return candidates


def _listed_once(module: SourceModule, model: ModelClass) -> Iterator[Finding]:
    """Each variable in one collection, once on every path through its property.

    Paths listed in different `return` statements of one property (exclusive
    branches: `if c: return [a, b, c]` then `return [a, b]`) are not counted
    together; expressions outside any `return` count for every branch.
    """
    if not model.listed:
        return
    owner: dict[str, str] = {}
    for collection, paths in model.listed.items():
        counts: dict[tuple[str, int], int] = {}
        most: dict[str, int] = {}  # the most times a path is in one `return`
        for path, node, branch in paths:
            if path in owner and owner[path] != collection:
                yield module.finding(
                    node,
                    CODE,
                    f"`{shown(path)}` is listed in both `{owner[path]}` and "
                    f"`{collection}`; list each variable once{model.judged_by}",
                )
                continue
            owner[path] = collection
            shared = counts.get((path, 0), 0)
            seen = (
                shared + most.get(path, 0)
                if branch == 0
                else shared + counts.get((path, branch), 0)
            )
            counts[(path, branch)] = counts.get((path, branch), 0) + 1
            if branch != 0:
                most[path] = max(most.get(path, 0), counts[(path, branch)])
            if seen:
                yield module.finding(
                    node,
                    CODE,
                    f"`{shown(path)}` is listed twice in `{collection}`; list each "
                    f"variable once{model.judged_by}",
                )
    for root, target in model.variable_roots.items():
        if not model.collections_of(root):
            yield module.finding(
                target,
                CODE,
                f"variable `self.{root}` is in none of trainable_variables, "
                f"non_trainable_variables, local_variables{model.judged_by}",
            )


def _reset_all(module: SourceModule, model: ModelClass) -> Iterator[Finding]:
    if "reset_metrics" not in model.members or "local_variables" not in model.listings:
        return
    if _not_implemented(model.members["reset_metrics"]):
        return  # an explicit stub: TFF 0.20-0.48 made `reset_metrics` optional
    covered: set[str] = set()
    for _, function in model.reachable("reset_metrics"):
        for call in module.findall(function, _SELF_CALL):
            if call.func.attr.value not in model.members:
                return  # calls something on self it cannot follow: no claim
        scope = model.scope(function)
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
        if path not in covered and covered.isdisjoint(path_prefixes(path)):
            yield module.finding(
                function.name,
                CODE,
                f"`reset_metrics` does not reset local variable `{shown(path)}`"
                f"{model.judged_by}",
            )


def _not_implemented(function: cst.FunctionDef) -> bool:
    """Whether `function` only raises `NotImplementedError` (after a docstring)."""
    body = (
        list(function.body.body)
        if isinstance(function.body, cst.IndentedBlock)
        else [function.body]
    )
    statements = [
        small
        for line in body
        for small in (
            line.body if isinstance(line, cst.SimpleStatementLine) else [line]
        )
        if not (isinstance(small, cst.Expr) and isinstance(small.value, cst.BaseString))
    ]
    if len(statements) != 1 or not isinstance(statements[0], cst.Raise):
        return False
    raised = statements[0].exc
    if isinstance(raised, cst.Call):
        raised = raised.func
    return m.matches(raised, m.Name("NotImplementedError"))


_SELF_CALL = m.Call(func=m.Attribute(value=m.Name("self")))
_RESET_STATE = m.Call(
    func=m.Attribute(attr=m.Name("reset_state") | m.Name("reset_states"))
)
_LOCAL_VARIABLES = m.Attribute(value=m.Name("self"), attr=m.Name("local_variables"))
