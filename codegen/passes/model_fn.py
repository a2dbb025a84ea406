"""WG701 model-fn: `model_fn` builds a new model on every call.

TFF calls `model_fn` several times while it builds a process (FedAvg calls it
three times: for the client work, the server state and the types) and
expects each call to return a new model whose variables it then captures in
its own graph. A `model_fn` that returns a model made once at module level,
caches one (`functools.cache`, `lru_cache`), or keeps one in a `global` hands
TFF variables created in another graph, and fails with errors far from the
cause. The pass checks module-level functions named `model_fn` (or ending
in `_model_fn`) and every function or lambda passed as `model_fn` to a call.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from codegen.passes import match as m
from codegen.passes.analysis import Finding, SourceModule

CODE = "WG701"
NAME = "model-fn"
MESSAGE = "model_fn returns a shared model instead of building a new one"

CACHES = (
    "functools.cache",
    "functools.lru_cache",
    "functools.cached_property",
    "cache",
    "lru_cache",
)

VALID = (
    """\
import tensorflow_federated as tff


class Model(tff.learning.models.VariableModel):
    pass


def model_fn():
    return Model()


process = tff.learning.algorithms.build_weighted_fed_avg(
    model_fn=lambda: Model(), client_optimizer_fn=None
)
""",
)

INVALID = (
    # A model made once at module level.
    (
        12,
        12,
        """\
import tensorflow_federated as tff


class Model(tff.learning.models.VariableModel):
    pass


MODEL = Model()


def model_fn():
    return MODEL
""",
    ),
    # A cached model_fn returns the same model every time.
    (
        10,
        1,
        """\
import functools

import tensorflow_federated as tff


class Model(tff.learning.models.VariableModel):
    pass


@functools.lru_cache(maxsize=None)
def model_fn():
    return Model()
""",
    ),
    # A lambda passed as model_fn that returns a shared model.
    (
        10,
        22,
        """\
import tensorflow_federated as tff


class Model(tff.learning.models.VariableModel):
    pass


shared = Model()
process = tff.learning.algorithms.build_weighted_fed_avg(
    model_fn=lambda: shared, client_optimizer_fn=None
)
""",
    ),
)


def check(module: SourceModule) -> Iterator[Finding]:
    targets: list[cst.CSTNode] = [
        function
        for name, function in module.functions.items()
        if name == "model_fn" or name.endswith("_model_fn")
    ]
    for call in module.findall(module.tree, m.Call()):
        assert isinstance(call, cst.Call)
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == "model_fn":
                value = arg.value
                if isinstance(value, cst.Name) and value.value in module.functions:
                    value = module.functions[value.value]
                if value not in targets:
                    targets.append(value)
    for target in targets:
        if isinstance(target, cst.FunctionDef):
            yield from _function(module, target)
        elif isinstance(target, cst.Lambda) and _shared(module, target.body, set()):
            yield _finding(module, target.body)


def _function(module: SourceModule, function: cst.FunctionDef) -> Iterator[Finding]:
    for decorator, name in zip(function.decorators, module.decorator_names(function)):
        if name in CACHES:
            yield module.finding(
                decorator,
                CODE,
                f"`{function.name.value}` is cached with `{name}`; TFF needs a new model on every call",
            )
    globals_ = {
        name.name.value
        for node in module.findall(function, m.Global())
        for name in node.names  # type: ignore[union-attr]
    }
    for ret in module.returns(function):
        if ret.value is not None and _shared(module, ret.value, globals_):
            yield _finding(module, ret.value)


def _shared(module: SourceModule, value: cst.CSTNode, globals_: set[str]) -> bool:
    """Whether `value` names a model that outlives the call."""
    if isinstance(value, cst.Name):
        if value.value in globals_:
            return True
        bound = module.assignments.get(value.value)
        return isinstance(bound, cst.Call)
    return m.matches(value, m.Attribute(value=m.Name("self")))


def _finding(module: SourceModule, node: cst.CSTNode) -> Finding:
    return module.finding(
        node,
        CODE,
        f"`model_fn` returns the shared model `{module.code_for(node)}`; build a new model "
        "on every call",
    )
