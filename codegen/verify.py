"""Stage 5, verify: libcst checks of a model module's TFF contract, before anything is written.

Each check has a rule code. The checks read the class that subclasses a TFF
model base class and prove, statically:

- WG101 contract: every VariableModel member and the classic members exist,
  collections and `input_spec`/`federated_output_computation` are properties;
- WG301 forward_pass purity: `forward_pass` (and the methods it calls on
  self) assigns only to local variables;
- WG401 train_on_batch: it calls `self.forward_pass` inside a
  `tf.GradientTape` block and takes gradients of the trainable variables;
- WG501 aggregation: `federated_output_computation` uses only `tff.federated_*`
  intrinsics and structure construction, and the metric keys of
  `report_local_unfinalized_metrics`, `metric_finalizers` and the federated
  aggregation are identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import libcst as cst
import libcst.matchers as m
from libcst.metadata import MetadataWrapper, PositionProvider

MODEL_BASES = ("VariableModel", "Model")

REQUIRED_PROPERTIES = (
    "trainable_variables",
    "non_trainable_variables",
    "local_variables",
    "input_spec",
    "federated_output_computation",
    "weights",
)
REQUIRED_METHODS = (
    "forward_pass",
    "predict_on_batch",
    "train_on_batch",
    "report_local_outputs",
    "report_local_unfinalized_metrics",
    "metric_finalizers",
    "reset_metrics",
)
_ASSIGN_METHODS = ("assign", "assign_add", "assign_sub")


@dataclass(frozen=True, order=True)
class Finding:
    """One rule violation at a 1-based line and column."""

    path: str
    line: int
    column: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.code} {self.message}"


def verify_source(source: str, path: str) -> list[Finding]:
    """All findings in `source`, sorted; a syntax error is a finding too."""
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        return [
            Finding(
                path,
                exc.raw_line,
                exc.raw_column + 1,
                "WG001",
                f"syntax error: {exc.message}",
            )
        ]
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    findings: list[Finding] = []
    for node in wrapper.module.body:
        if isinstance(node, cst.ClassDef) and _is_model_class(node):
            findings.extend(_ModelChecks(node, path, positions).run())
    return sorted(findings)


def _is_model_class(node: cst.ClassDef) -> bool:
    for base in node.bases:
        value = base.value
        name = (
            value.attr.value
            if isinstance(value, cst.Attribute)
            else getattr(value, "value", None)
        )
        if name in MODEL_BASES:
            return True
    return False


def _is_property(function: cst.FunctionDef) -> bool:
    return any(m.matches(d.decorator, m.Name("property")) for d in function.decorators)


class _ModelChecks:
    def __init__(self, cls: cst.ClassDef, path: str, positions) -> None:
        self.cls = cls
        self.path = path
        self.positions = positions
        self.methods = {
            item.name.value: item
            for item in cls.body.body
            if isinstance(item, cst.FunctionDef)
        }
        self.findings: list[Finding] = []

    def report(self, node: cst.CSTNode, code: str, message: str) -> None:
        start = self.positions[node].start
        self.findings.append(
            Finding(self.path, start.line, start.column + 1, code, message)
        )

    def run(self) -> list[Finding]:
        self.contract()
        self.forward_pass_purity()
        self.train_on_batch()
        self.aggregation()
        return self.findings

    def contract(self) -> None:
        for name in REQUIRED_PROPERTIES + REQUIRED_METHODS:
            function = self.methods.get(name)
            if function is None:
                self.report(self.cls.name, "WG101", f"model class lacks `{name}`")
            elif (name in REQUIRED_PROPERTIES) != _is_property(function):
                kind = (
                    "a property"
                    if name in REQUIRED_PROPERTIES
                    else "a method, not a property"
                )
                self.report(function.name, "WG101", f"`{name}` must be {kind}")

    def local_variable_names(self) -> set[str]:
        function = self.methods.get("local_variables")
        if function is None:
            return set()
        return {
            node.attr.value
            for node in m.findall(function, m.Attribute(value=m.Name("self")))
            if isinstance(node, cst.Attribute)
        }

    def forward_pass_purity(self) -> None:
        locals_ = self.local_variable_names()
        seen: set[str] = set()
        pending = ["forward_pass"]
        while pending:
            name = pending.pop()
            if name in seen or name not in self.methods:
                continue
            seen.add(name)
            body = self.methods[name]
            for call in m.findall(
                body,
                m.Call(func=m.Attribute(attr=m.OneOf(*map(m.Name, _ASSIGN_METHODS)))),
            ):
                receiver = call.func.value  # type: ignore[union-attr]
                if not (
                    m.matches(receiver, m.Attribute(value=m.Name("self")))
                    and receiver.attr.value in locals_
                ):
                    self.report(
                        call,
                        "WG301",
                        f"`{name}` (reached from forward_pass) assigns to a variable that is not a local variable",
                    )
            for call in m.findall(body, m.Call(func=m.Attribute(value=m.Name("self")))):
                pending.append(call.func.attr.value)  # type: ignore[union-attr]

    def train_on_batch(self) -> None:
        function = self.methods.get("train_on_batch")
        if function is None:
            return
        tape = m.With(
            items=[
                m.WithItem(
                    item=m.Call(
                        func=m.Attribute(
                            value=m.Name("tf"), attr=m.Name("GradientTape")
                        )
                    ),
                    asname=m.DoNotCare(),
                )
            ],
            body=m.DoNotCare(),
        )
        blocks = m.findall(function, tape)
        forward = m.Call(
            func=m.Attribute(value=m.Name("self"), attr=m.Name("forward_pass"))
        )
        if not any(m.findall(block, forward) for block in blocks):
            self.report(
                function.name,
                "WG401",
                "`train_on_batch` must call `self.forward_pass` inside a `with tf.GradientTape()` block",
            )
        gradient = m.Call(
            func=m.Attribute(attr=m.Name("gradient")),
            args=[
                m.DoNotCare(),
                m.Arg(
                    m.Attribute(
                        value=m.Name("self"), attr=m.Name("trainable_variables")
                    )
                ),
            ],
        )
        if not m.findall(function, gradient):
            self.report(
                function.name,
                "WG401",
                "`train_on_batch` must take gradients with respect to `self.trainable_variables`",
            )

    def aggregation(self) -> None:
        function = self.methods.get("federated_output_computation")
        if function is None:
            return
        allowed = m.OneOf(
            m.Call(
                func=m.Attribute(
                    value=m.Name("tff"),
                    attr=m.MatchIfTrue(lambda n: n.value.startswith("federated_")),
                )
            ),
            m.Call(
                func=m.Attribute(
                    value=m.Name("collections"), attr=m.Name("OrderedDict")
                )
            ),
        )
        inner = [f for f in m.findall(function, m.FunctionDef()) if f is not function]
        for body in inner:
            for call in m.findall(body.body, m.Call()):
                if not m.matches(call, allowed):
                    self.report(
                        call,
                        "WG501",
                        "federated aggregation may call only `tff.federated_*` intrinsics and build structures",
                    )
        keys = {}
        for name in ("report_local_unfinalized_metrics", "metric_finalizers"):
            if name in self.methods:
                keys[name] = _ordered_dict_keys(self.methods[name])
        for body in inner[:1]:
            keys["federated_output_computation"] = _ordered_dict_keys(body)
        distinct = {
            tuple(sorted(value)) for value in keys.values() if value is not None
        }
        if len(distinct) > 1:
            detail = "; ".join(
                f"{name}: {sorted(value or ())}" for name, value in keys.items()
            )
            self.report(
                function.name, "WG501", f"metric keys differ between methods ({detail})"
            )


def _ordered_dict_keys(function: cst.CSTNode) -> Optional[Sequence[str]]:
    """Keyword names of the OrderedDict a function returns, when it returns one literally."""
    call = m.Call(
        func=m.Attribute(value=m.Name("collections"), attr=m.Name("OrderedDict"))
    )
    for ret in m.findall(function, m.Return(value=call)):
        args = ret.value.args  # type: ignore[union-attr]
        if all(arg.keyword is not None for arg in args):
            return [arg.keyword.value for arg in args]  # type: ignore[union-attr]
    return None
