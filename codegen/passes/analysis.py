"""What every pass reads: the parsed module, its imports, and each TFF model class in it.

The analysis is static and conservative: it resolves names through the
module's own imports (`import tensorflow_federated as federated` works like
`as tff`), follows calls from a method to other methods of the same class and
to module-level functions, and tracks which `self.<attr>` holds which
variables from the bodies of the three variable-collection properties.

Identifiers are compared as Python compares them: `SourceModule` spells
every name in NFKC form (PEP 3131), so `self.kernel.ａssign(...)` (a
fullwidth `a`) is the `assign` it runs as, for every pass.
"""

from __future__ import annotations

import ast
import bisect
import collections
import contextlib
import dataclasses
import enum
import functools
import re
import typing
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Union

import libcst as cst

from codegen.errors import printable
from codegen.header import GENERATED_MARKER
from codegen.passes import match as m
from codegen.pysource import refuse

TFF = "tensorflow_federated"
MODERN_BASES = (f"{TFF}.learning.models.VariableModel",)
CLASSIC_BASES = (f"{TFF}.learning.Model", f"{TFF}.learning.TrainableModel")
"""Base classes as `canonical` spells them: internal spellings resolve to these."""

GENERATIONS = {
    "classic": "classic tff.learning.Model (TFF 0.1-0.19, 2019-2021)",
    "trainable": "classic tff.learning.TrainableModel (TFF 0.1-0.13, 2019-2020)",
    "transitional": "2022 tff.learning.Model (TFF 0.20-0.48)",
    "modern": "tff.learning.models.VariableModel (TFF 0.49 and later)",
    "wrapgen": "wrapgen's combined contract (generated module)",
}
"""Each generation of TFF's model API, as findings name it."""
CLASSIC_MEMBERS = ("report_local_outputs", "federated_output_computation")
UNFINALIZED_MEMBERS = ("report_local_unfinalized_metrics", "metric_finalizers")
COLLECTIONS = ("trainable_variables", "non_trainable_variables", "local_variables")
CONTRACT_MEMBERS = frozenset(
    {
        *COLLECTIONS,
        *CLASSIC_MEMBERS,
        *UNFINALIZED_MEMBERS,
        "input_spec",
        "forward_pass",
        "predict_on_batch",
        "train_on_batch",
        "reset_metrics",
        "weights",
    }
)
"""Members TFF itself calls: never helpers that only `__init__` runs."""
VARIABLE_CONSTRUCTORS = (
    "tensorflow.Variable",
    "tensorflow.compat.v1.Variable",
    "tensorflow.compat.v1.get_variable",
    "tensorflow.compat.v2.Variable",
)
ASSIGN_METHODS = frozenset(
    {"assign", "assign_add", "assign_sub", "batch_scatter_update"}
)
ASSIGN_FUNCTIONS = frozenset(
    {
        "tensorflow.compat.v1.assign",
        "tensorflow.compat.v1.assign_add",
        "tensorflow.compat.v1.assign_sub",
        "tensorflow.raw_ops.AssignVariableOp",
        "tensorflow.raw_ops.AssignAddVariableOp",
        "tensorflow.raw_ops.AssignSubVariableOp",
    }
)

MAX_CLASS_CHAIN = 50
"""Most classes of one module in a chain, each subclassing the next."""
MAX_TREE_DEPTH = 150
"""Deepest libcst syntax tree analysed; the token scan's limit normally keeps it far lower."""
MAX_FOLLOW = 24
"""Longest chain of names, parameters and calls `paths_of` follows to a variable."""
MAX_FOLLOWED = 20_000
"""Most expressions `paths_of` follows for one model class; beyond, values are unknown."""
MAX_CALL_SITES = 64
"""Most calls of one function whose arguments bind its parameters; beyond, unknown."""

FunctionNode = Union[cst.FunctionDef, cst.Lambda]


@dataclass(frozen=True, order=True)
class Finding:
    """One rule violation at a 1-based line and column."""

    path: str
    line: int
    column: int
    code: str
    message: str

    def __str__(self) -> str:
        where = printable(self.path)
        return (
            f"{where}:{self.line}:{self.column}: {self.code} {printable(self.message)}"
        )


@dataclass(frozen=True)
class Kind:
    """What an expression holds, as far as static analysis can tell.

    `collection` is one of `COLLECTIONS`, "weights" (both model-weight
    collections) or None when unknown; `path` is the dotted attribute path
    below `self` when the value is (part of) one attribute. `resolved` tells
    an expression followed to `self.<path>`s that no collection decides
    (`collection` None: a variable listed nowhere, or in several) from one
    that could not be followed at all (a parameter no call binds, a lambda's
    argument): passes say nothing about the latter.
    """

    collection: str | None
    path: str | None = None
    resolved: bool = False

    @property
    def is_local(self) -> bool:
        return self.collection == "local_variables"

    @property
    def description(self) -> str:
        """What the variable is, as a finding names it."""
        if self.collection is None:
            return (
                "a variable in no single collection"
                if self.resolved
                else "a variable of unknown collection"
            )
        if self.collection == "weights":
            return "a model weight (trainable or non-trainable)"
        what = self.collection.replace("_variables", "").replace("_", "-")
        return f"a {what} variable"


UNKNOWN = Kind(None)


class SourceModule:
    """A parsed module with positions, resolved imports and its model classes.

    Raises `libcst.ParserSyntaxError` when `source` does not parse, and
    `UnparsableSource` when its tree is deeper than `MAX_TREE_DEPTH` or its
    classes form a chain longer than `MAX_CLASS_CHAIN`.
    """

    def __init__(
        self,
        source: str,
        path: str,
        *,
        generated: bool | None = None,
        keras_builder: str | None = None,
        keras_builder_problem: str | None = None,
    ) -> None:
        self.source = source
        self.path = path
        self.tree = cst.parse_module(source)
        self._nodes: list[cst.CSTNode] = []
        self._spans: dict[int, tuple[int, int]] = {}
        self._parents: dict[int, cst.CSTNode] = {}
        self._by_type: dict[type, list[int]] = {}
        self._index_nodes(self.tree)
        self._spellings = self._spell_names_as_python()
        self._qualnames: dict[int, str | None] = {}
        self.generated = (
            source.startswith(GENERATED_MARKER) if generated is None else generated
        )
        self.keras_builder = keras_builder
        self.keras_builder_problem = keras_builder_problem
        self.imports: dict[str, str] = {}
        self.assignments: dict[str, cst.BaseExpression] = {}
        self.functions: dict[str, cst.FunctionDef] = {}
        self.classes: dict[str, cst.ClassDef] = {}
        for statement in self.tree.body:
            self._index(statement)
        self._check_class_chains()
        self.models = [
            ModelClass(self, node)
            for node in self.classes.values()
            if self.model_flavour(node) is not None
        ]

    def _index(self, statement: cst.CSTNode) -> None:
        if isinstance(statement, cst.FunctionDef):
            self.functions[statement.name.value] = statement
        elif isinstance(statement, cst.ClassDef):
            self.classes[statement.name.value] = statement
        elif isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Import):
                    for alias in small.names:
                        full = _dotted(alias.name)
                        if alias.asname is not None:
                            self.imports[_dotted(alias.asname.name)] = full
                        else:
                            head = full.split(".")[0]
                            self.imports[head] = head
                elif isinstance(small, cst.ImportFrom) and not isinstance(
                    small.names, cst.ImportStar
                ):
                    base = "." * len(small.relative) + (
                        _dotted(small.module) if small.module else ""
                    )
                    for alias in small.names:
                        name = _dotted(alias.name)
                        local = _dotted(alias.asname.name) if alias.asname else name
                        self.imports[local] = f"{base}.{name}"
                elif isinstance(small, (cst.Assign, cst.AnnAssign)):
                    targets = (
                        [t.target for t in small.targets]
                        if isinstance(small, cst.Assign)
                        else [small.target]
                    )
                    for target in targets:
                        if isinstance(target, cst.Name) and small.value is not None:
                            self.assignments[target.value] = small.value
        elif isinstance(statement, (cst.If, cst.Try)):
            for inner in statement.body.body:
                self._index(inner)

    # -- the node index -------------------------------------------------------

    def _index_nodes(self, root: cst.CSTNode) -> None:
        """One walk over the tree: preorder list, subtree spans, parents, positions by type.

        Reading node fields directly is an order of magnitude faster than a
        libcst visitor, which rebuilds every node it passes.
        """
        nodes, spans, parents = self._nodes, self._spans, self._parents
        by_type = self._by_type
        stack: list[tuple[cst.CSTNode, int]] = [(root, 0)]  # depth -1: leaving
        while stack:
            node, depth = stack.pop()
            if depth < 0:
                spans[id(node)] = (spans[id(node)][0], len(nodes))
                continue
            if depth > MAX_TREE_DEPTH:  # libcst and the passes recurse on the tree
                raise refuse(
                    self.path,
                    1,
                    1,
                    f"over the verifier's nesting limit: its syntax tree is more than "
                    f"{MAX_TREE_DEPTH} levels deep",
                )
            spans[id(node)] = (len(nodes), -1)
            by_type.setdefault(type(node), []).append(len(nodes))
            nodes.append(node)
            stack.append((node, -1))
            children = _children(node)
            for child in reversed(children):
                parents[id(child)] = node
                stack.append((child, depth + 1))

    def _spell_names_as_python(self) -> list[tuple[cst.Name, str, str]]:
        """Respell every identifier in NFKC form, as Python reads it (PEP 3131).

        Changes the parsed `Name` nodes in place, so every pass, matcher and
        `code_for` sees the name Python runs; returns (node, as written, as
        Python reads it) for `_as_written`, which positions need.
        """
        spellings = []
        if self.source.isascii():
            return spellings
        for index in self._by_type.get(cst.Name, ()):
            node = self._nodes[index]
            written = node.value  # type: ignore[union-attr]
            if not written.isascii():
                normal = unicodedata.normalize("NFKC", written)
                if normal != written:
                    spellings.append((node, written, normal))
                    object.__setattr__(node, "value", normal)
        return spellings  # type: ignore[return-value]

    @contextlib.contextmanager
    def _as_written(self) -> Iterator[None]:
        """The identifiers as the source spells them (NFKC can change their length)."""
        for node, written, _ in self._spellings:
            object.__setattr__(node, "value", written)
        try:
            yield
        finally:
            for node, _, normal in self._spellings:
                object.__setattr__(node, "value", normal)

    def findall(self, root: cst.CSTNode, matcher: m.Matcher) -> list:
        """Nodes under `root` (itself included) that `matcher` matches, in source order."""
        start, end = self._spans[id(root)]
        types, constrained = _matcher_info(matcher)
        found: list[int] = []
        for node_type in types:
            indices = self._by_type.get(node_type, ())
            found.extend(
                indices[
                    bisect.bisect_left(indices, start) : bisect.bisect_left(
                        indices, end
                    )
                ]
            )
        if len(types) > 1:
            found.sort()
        nodes = [self._nodes[i] for i in found]
        if not constrained:
            return nodes
        return [node for node in nodes if m.matches(node, matcher)]

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self._parents.get(id(node))

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        current = self._parents.get(id(node))
        while current is not None:
            yield current
            current = self._parents.get(id(current))

    def enclosing_function(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """The innermost function or lambda that contains `node`."""
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, (cst.FunctionDef, cst.Lambda)):
                return ancestor
        return None

    def returns(self, function: cst.FunctionDef) -> list[cst.Return]:
        """The `return` statements of `function` itself, not of functions nested in it."""
        return [
            ret
            for ret in self.findall(function, m.Return())
            if self.enclosing_function(ret) is function
        ]

    @functools.cached_property
    def positions(self):
        """libcst positions, resolved only when a finding needs one."""
        from libcst.metadata import (
            MetadataWrapper,
            PositionProvider,
        )  # only for findings

        with self._as_written():
            return MetadataWrapper(self.tree, unsafe_skip_copy=True).resolve(
                PositionProvider
            )

    # -- names and positions ------------------------------------------------

    def qualname(self, expr: cst.CSTNode) -> str | None:
        """The dotted name of `expr` with its first part resolved through imports."""
        if isinstance(expr, cst.Name):
            return canonical(self.imports.get(expr.value, expr.value))
        if not isinstance(expr, cst.Attribute):
            return None
        known = self._qualnames.get(id(expr), "")
        if known != "":
            return known
        chain = []  # iterative and cached: passes ask for every prefix of a chain
        current: cst.CSTNode = expr
        while isinstance(current, cst.Attribute) and id(current) not in self._qualnames:
            chain.append(current)
            current = current.value
        name = (
            self._qualnames[id(current)]
            if isinstance(current, cst.Attribute)
            else self.qualname(current)
        )
        for attribute in reversed(chain):
            name = None if name is None else canonical(f"{name}.{attribute.attr.value}")
            self._qualnames[id(attribute)] = name
        return name

    def call_name(self, node: cst.CSTNode) -> str | None:
        return self.qualname(node.func) if isinstance(node, cst.Call) else None

    def finding(self, node: cst.CSTNode, code: str, message: str) -> Finding:
        start = self.positions[node].start
        return Finding(self.path, start.line, start.column + 1, code, message)

    def code_for(self, node: cst.CSTNode) -> str:
        return self.tree.code_for_node(node)

    # -- models ---------------------------------------------------------------

    def model_flavour(self, node: cst.ClassDef) -> str | None:
        """ "modern", "classic" or "trainable" when `node` is a TFF model class.

        Searches all its bases, through classes of the module, each once; a
        TFF base anywhere among them counts, `TrainableModel` (which extends
        the classic `Model`) before `VariableModel` before `Model`.
        """
        pending = [iter(node.bases)]
        seen: set[str] = set()
        found: set[str] = set()
        while pending:
            base = next(pending[-1], None)
            if base is None:
                pending.pop()
                continue
            name = self.qualname(base.value) or ""
            flavour = _flavour_of(name)
            if flavour is not None:
                found.add(flavour)
                continue
            local = self.classes.get(name)
            if local is not None and name not in seen:
                seen.add(name)
                pending.append(iter(local.bases))
        for flavour in ("trainable", "modern", "classic"):
            if flavour in found:
                return flavour
        return None

    @functools.cached_property
    def subclasses(self) -> dict[str, list[cst.ClassDef]]:
        """The module's classes by the (resolved) name of each of their bases."""
        result: dict[str, list[cst.ClassDef]] = {}
        for cls in self.classes.values():
            for base in cls.bases:
                result.setdefault(self.qualname(base.value) or "", []).append(cls)
        return result

    def _check_class_chains(self) -> None:
        """Refuse a chain of more than `MAX_CLASS_CHAIN` classes each subclassing the next."""
        depths = self._class_depths()
        for name, depth in depths.items():
            if depth == MAX_CLASS_CHAIN + 1:
                line, column = self._class_start(name)
                raise refuse(
                    self.path,
                    line,
                    column,
                    f"over the verifier's limit of {MAX_CLASS_CHAIN} classes in one "
                    f"chain of subclasses: class {name} extends a chain of "
                    f"{MAX_CLASS_CHAIN} (the longest holds {max(depths.values())})",
                )

    def _class_start(self, name: str) -> tuple[int, int]:
        """Line and column of class `name`; Python's parser finds it faster than libcst."""
        for node in ast.walk(
            ast.parse(self.source)
        ):  # breadth first: module level first
            if isinstance(node, ast.ClassDef) and node.name == name:
                return node.lineno, node.col_offset + 1
        return 1, 1

    def _class_depths(self) -> dict[str, int]:
        """How many classes of the module each class's longest chain of bases holds.

        Iterative; a base that is part of a cycle counts as none.
        """
        depths: dict[str, int] = {}
        bases = {
            name: [
                base_name
                for base in cls.bases
                if (base_name := self.qualname(base.value) or "") in self.classes
            ]
            for name, cls in self.classes.items()
        }
        for root in self.classes:
            visiting: set[str] = set()
            pending = [(root, False)]
            while pending:
                name, finished = pending.pop()
                if finished:
                    visiting.discard(name)
                    depths[name] = 1 + max(
                        (depths.get(b, 0) for b in bases[name]), default=0
                    )
                elif name not in depths and name not in visiting:
                    visiting.add(name)
                    pending.append((name, True))
                    pending.extend((b, False) for b in bases[name])
        return depths

    def is_variable_constructor(self, node: cst.CSTNode) -> bool:
        return self.call_name(node) in VARIABLE_CONSTRUCTORS

    @functools.cached_property
    def variable_functions(self) -> frozenset[str]:
        """Module-level functions that create variables, directly or through others."""
        creating = {
            name
            for name, function in self.functions.items()
            if any(
                self.is_variable_constructor(c)
                for c in self.findall(function, m.Call())
            )
        }
        callers: dict[str, set[str]] = {}
        for name, function in self.functions.items():
            for called in self.called_functions(function):
                callers.setdefault(called, set()).add(name)
        pending = list(creating)
        while pending:
            for caller in callers.get(pending.pop(), ()):
                if caller not in creating:
                    creating.add(caller)
                    pending.append(caller)
        return frozenset(creating)

    def called_functions(self, node: cst.CSTNode) -> set[str]:
        """Names of the module-level functions that `node` calls directly."""
        return {
            call.func.value
            for call in self.findall(node, m.Call(func=m.Name()))
            if call.func.value in self.functions  # type: ignore[union-attr]
        }

    def namedtuple_fields(self, name: str) -> tuple[str, ...] | None:
        """The fields of the namedtuple class the module assigns to `name`, if it does
        (`collections.namedtuple("V", "a b")` or `["a", "b"]`)."""
        value = self.assignments.get(name)
        if not isinstance(value, cst.Call) or self.call_name(value) not in (
            "collections.namedtuple",
            "typing.NamedTuple",
        ):
            return None
        if len(value.args) < 2:
            return None
        fields = value.args[1].value
        if isinstance(fields, cst.SimpleString):
            text = fields.evaluated_value
            return (
                tuple(text.replace(",", " ").split()) if isinstance(text, str) else None
            )
        if isinstance(fields, (cst.List, cst.Tuple)) and all(
            isinstance(e.value, cst.SimpleString) for e in fields.elements
        ):
            return tuple(e.value.evaluated_value for e in fields.elements)  # type: ignore[union-attr]
        return None

    def decorator_names(self, function: cst.FunctionDef) -> list[str]:
        names = []
        for decorator in function.decorators:
            target = decorator.decorator
            if isinstance(target, cst.Call):
                target = target.func
            names.append(self.qualname(target) or "")
        return names

    def suppressions(
        self, pattern: re.Pattern[str]
    ) -> Iterator[tuple[int, cst.Comment, re.Match[str]]]:
        """(line, comment, match) for every comment that `pattern` finds something in.

        Positions are resolved only when such a comment exists: resolving them
        costs a third of verifying a module.
        """
        for comment in self.findall(self.tree, m.Comment()):
            match = pattern.search(comment.value)  # type: ignore[union-attr]
            if match is not None:
                yield self.positions[comment].start.line, comment, match  # type: ignore[misc]


class ModelClass:
    """One TFF model class: its members (own and inherited within the module) and variables."""

    def __init__(self, module: SourceModule, node: cst.ClassDef) -> None:
        self.module = module
        self.node = node
        self.name = node.name.value
        self.flavour = module.model_flavour(node)
        self.members: dict[str, cst.FunctionDef] = {}
        self.owners: dict[str, cst.ClassDef] = {}
        """The class of the module that defines each member."""
        for cls in reversed(self._lineage(node)):
            for item in cls.body.body:
                if isinstance(item, cst.FunctionDef):
                    self.members[item.name.value] = item
                    self.owners[item.name.value] = cls

    def _lineage(self, node: cst.ClassDef) -> list[cst.ClassDef]:
        lineage, current, seen = [node], node, {node.name.value}
        while True:
            parents = [
                self.module.classes[name]
                for base in current.bases
                if (name := self.module.qualname(base.value) or "")
                in self.module.classes
                and name not in seen
            ]
            if not parents:
                return lineage
            current = parents[0]
            seen.add(current.name.value)
            lineage.append(current)

    @property
    def is_abstract(self) -> bool:
        """A base for other model classes of the module, or one with abstract methods."""
        if any(
            other is not self.node
            for other in self.module.subclasses.get(self.name, ())
        ):
            return True
        return any(
            "abc.abstractmethod" in self.module.decorator_names(f)
            for f in self.members.values()
        )

    def is_property(self, function: cst.FunctionDef) -> bool:
        return any(
            name in ("property", "functools.cached_property")
            for name in self.module.decorator_names(function)
        )

    @functools.cached_property
    def generation(self) -> str | None:
        """The TFF API generation whose contract the class is judged by (a GENERATIONS key).

        A generated module keeps wrapgen's combined contract; a
        `VariableModel` is modern; a `TrainableModel` is classic. A
        `tff.learning.Model` was both the classic base (2019-2021:
        `report_local_outputs` and `federated_output_computation`) and the
        2022 one (`report_local_unfinalized_metrics` and `metric_finalizers`),
        so its members decide: the unfinalized metrics make it 2022 (TFF 0.20
        asked for both kinds), otherwise classic members make it classic,
        otherwise `reset_metrics` (TFF 0.21 on) makes it 2022, and a class with
        none of these is undecidable (None).
        """
        if self.module.generated:
            return "wrapgen"
        if self.flavour in ("modern", "trainable"):
            return self.flavour
        if any(name in self.members for name in UNFINALIZED_MEMBERS):
            return "transitional"
        if any(name in self.members for name in CLASSIC_MEMBERS):
            return "classic"
        if "reset_metrics" in self.members:  # TFF 0.21 on; never classic
            return "transitional"
        return None

    def inherits_from_model(self, name: str) -> bool:
        """Whether member `name` comes from another TFF model class of the module,
        which is checked (and reported) on its own."""
        owner = self.owners.get(name)
        return (
            owner is not None
            and owner is not self.node
            and self.module.model_flavour(owner) is not None
        )

    @property
    def judged_by(self) -> str:
        """The generation whose contract a finding applies, as its message ends."""
        generation = self.generation
        if generation is None:
            return " (judged by what every generation of TFF's model contract shares)"
        return f" (judged by the contract of {GENERATIONS[generation]})"

    @property
    def claims_classic(self) -> bool:
        """Whether the class promises the classic aggregation (and so all of it)."""
        return self.generation in ("wrapgen", "classic", "trainable") or any(
            name in self.members for name in CLASSIC_MEMBERS
        )

    @property
    def claims_trainable(self) -> bool:
        return (
            self.module.generated
            or self.flavour == "trainable"
            or "train_on_batch" in self.members
        )

    # -- variables ------------------------------------------------------------

    @functools.cached_property
    def variable_roots(self) -> dict[str, cst.CSTNode]:
        """`self.<attr>` assigned in `__init__` from an expression that creates variables."""
        init = self.members.get("__init__")
        roots: dict[str, cst.CSTNode] = {}
        if init is None:
            return roots
        for assign in self.module.findall(init, m.Assign() | m.AnnAssign()):
            targets = (
                [t.target for t in assign.targets]  # type: ignore[union-attr]
                if isinstance(assign, cst.Assign)
                else [assign.target]  # type: ignore[union-attr]
            )
            value = assign.value  # type: ignore[union-attr]
            if value is None or not self.creates_variables(value):
                continue
            for target in targets:
                if m.matches(target, m.Attribute(value=m.Name("self"))):
                    roots.setdefault(target.attr.value, target)  # type: ignore[union-attr]
        return roots

    def creates_variables(self, expr: cst.CSTNode) -> bool:
        calls = self.module.findall(expr, m.Call())
        return any(self.module.is_variable_constructor(c) for c in calls) or bool(
            self.module.called_functions(expr) & self.module.variable_functions
        )

    @functools.cached_property
    def listed(self) -> dict[str, list[tuple[str, cst.CSTNode, int]]]:
        """For each collection property: (path, node, branch) of each `self.<path>` it lists.

        `branch` is the `return` statement (by id) the expression belongs to,
        or 0 when it is outside any `return`: `if c: return [a, b, c]` and a
        later `return [a, b]` list `a` once on each path through the property,
        not twice. A literal subscript is part of the path
        (`self._vars["w"]` is `_vars.['w']`); a method of the class the
        property calls contributes what it returns.
        """
        result: dict[str, list[tuple[str, cst.CSTNode, int]]] = {}
        for name in COLLECTIONS:
            function = self.members.get(name)
            if function is None:
                continue
            returns = {id(r) for r in self.module.returns(function)}
            paths: list[tuple[str, cst.CSTNode, int]] = []
            for node in _self_paths(self.module, function):
                node, path = _listed_path(self.module, node)
                if path is None or path.split(".")[0] in COLLECTIONS + ("weights",):
                    continue
                branch = next(
                    (
                        id(a)
                        for a in self.module.ancestors(node)
                        if id(a) in returns or a is function
                    ),
                    0,
                )
                branch = 0 if branch == id(function) else branch
                parent = self.module.parent(node)
                if isinstance(parent, cst.Call) and parent.func is node:
                    method = self._called_method(parent)
                    if method is not None:
                        returned = self.paths_of(parent, self.scope(method)) or ()
                        paths.extend((p, node, branch) for p in sorted(returned))
                        continue
                paths.append((path, node, branch))
            result[name] = paths
        return result

    @functools.cached_property
    def listings(self) -> dict[str, list[tuple[str, cst.CSTNode]]]:
        """For each collection property: the `self.<path>` expressions it lists, in order."""
        return {
            name: [(path, node) for path, node, _ in paths]
            for name, paths in self.listed.items()
        }

    def collections_of(self, path: str) -> set[str]:
        """The collections that list `self.<path>`, a container of it, or a part of it.

        A path that is listed, or lies inside a listed container, belongs to
        the collections that list it; otherwise a container of listed
        variables belongs to every collection that lists one of them.
        """
        exact, containers = self._listed_index
        inside: set[str] = set()
        for prefix in path_prefixes(path):
            inside |= exact.get(prefix, set())
        inside |= exact.get(path, set())
        if inside:
            return inside
        if not path:
            return {name for name, paths in self.listings.items() if paths}
        return set(containers.get(path, ()))

    @functools.cached_property
    def _listed_index(self) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
        """The collections listing each path, and those listing something below each
        container path (`_v` for `_v.w`): `collections_of` in time of the path's length."""
        exact: dict[str, set[str]] = {}
        containers: dict[str, set[str]] = {}
        for name, paths in self.listings.items():
            for listed, _ in paths:
                exact.setdefault(listed, set()).add(name)
                for prefix in path_prefixes(listed):
                    containers.setdefault(prefix, set()).add(name)
        return exact, containers

    def collection_of(self, path: str) -> str | None:
        """The one collection `self.<path>` belongs to; None when none or several."""
        found = self.collections_of(path)
        return found.pop() if len(found) == 1 else None

    # -- method bodies --------------------------------------------------------

    def reachable(self, start: str) -> list[tuple[str, cst.FunctionDef]]:
        """`start` and every method or module-level function it calls, transitively."""
        return [
            (name if owner == "self" else f"{name}()", function)
            for (owner, name), function in self.reached(("self", start))
        ]

    def reached(
        self, start: tuple[str, str], seen: set[tuple[str, str]] | None = None
    ) -> list[tuple[tuple[str, str], cst.FunctionDef]]:
        """(key, function) of `start` and what it calls, breadth first; `("self", name)`
        is a method, `("module", name)` a module-level function. Keys already in
        `seen` (which it updates) are not entered again, so walks from many
        starts sharing one `seen` cost one walk of the class's call graph."""
        seen = set() if seen is None else seen
        order: list[tuple[tuple[str, str], cst.FunctionDef]] = []
        pending = collections.deque([start])
        while pending:
            key = pending.popleft()
            table = self.members if key[0] == "self" else self.module.functions
            function = table.get(key[1])
            if key in seen or function is None:
                continue
            seen.add(key)
            order.append((key, function))
            pending.extend(self.callees(function))
        return order

    def callees(self, function: cst.FunctionDef) -> list[tuple[str, str]]:
        """The methods (`self.name(...)`) and then the module-level functions (sorted)
        that `function` calls, each once; cached."""
        cache = self._callees
        found = cache.get(id(function))
        if found is None:
            methods = dict.fromkeys(
                ("self", call.func.attr.value)  # type: ignore[union-attr]
                for call in self.module.findall(function, _SELF_CALL)
            )
            functions = [
                ("module", name)
                for name in sorted(self.module.called_functions(function))
            ]
            found = cache[id(function)] = [*methods, *functions]
        return found

    @functools.cached_property
    def _callees(self) -> dict[int, list[tuple[str, str]]]:
        return {}

    @functools.cached_property
    def _call_sites(
        self,
    ) -> dict[tuple[str, str], list[tuple[cst.Call, cst.FunctionDef]]]:
        """(call, calling function) of each call, from the class's members and the
        module functions they reach, to a method (`("self", name)`) or a
        module-level function (`("module", name)`)."""
        sites: dict[tuple[str, str], list[tuple[cst.Call, cst.FunctionDef]]] = {}
        pending = [("self", name) for name in self.members]
        seen: set[tuple[str, str]] = set()
        while pending:
            key = pending.pop()
            table = self.members if key[0] == "self" else self.module.functions
            if key in seen or key[1] not in table:
                continue
            seen.add(key)
            function = table[key[1]]
            for call in self.module.findall(function, _SELF_OR_NAME_CALL):
                func = call.func
                if isinstance(func, cst.Attribute):
                    if not m.matches(func.value, m.Name("self")):
                        continue
                    callee = ("self", func.attr.value)
                else:
                    callee = ("module", func.value)  # type: ignore[union-attr]
                    if callee[1] not in self.module.functions:
                        continue
                sites.setdefault(callee, []).append((call, function))
                pending.append(callee)
        return sites

    def scope(self, function: FunctionNode) -> Scope:
        """The names `function` binds, its parameters bound to the arguments of
        every call to it from the class (a parameter no call binds, or one a
        `*args`/`**kwargs` call may bind, is bound to nothing known)."""
        cache = self._scopes
        found = cache.get(id(function))
        if found is not None:
            return found
        scope = cache[id(function)] = Scope(self.module, function)
        if not isinstance(function, cst.FunctionDef):
            return scope
        name = function.name.value
        if self.members.get(name) is function:
            key = ("self", name)
            skip = 0 if "staticmethod" in self.module.decorator_names(function) else 1
        elif self.module.functions.get(name) is function:
            key, skip = ("module", name), 0
        else:
            return scope
        sites = self._call_sites.get(key, ())
        if not sites:
            return scope
        positional = [*function.params.posonly_params, *function.params.params][skip:]
        named = {p.name.value: p for p in positional}
        named.update({p.name.value: p for p in function.params.kwonly_params})
        for call, caller in sites[:MAX_CALL_SITES]:
            given: dict[str, cst.BaseExpression | None] = {}
            index = 0
            for arg in call.args:
                if arg.star:
                    unknown = positional[index:] if arg.star == "*" else named.values()
                    for param in unknown:
                        given.setdefault(param.name.value, None)
                    index = len(positional)
                elif arg.keyword is not None:
                    given[arg.keyword.value] = arg.value
                elif index < len(positional):
                    given[positional[index].name.value] = arg.value
                    index += 1
            for param in named:
                value = given.get(param)
                scope.bindings.setdefault(param, []).append(
                    Binding(value, origin=caller)
                    if value is not None
                    else Binding(None)
                )
        if len(sites) > MAX_CALL_SITES:
            for param in named:
                scope.bindings.setdefault(param, []).append(Binding(None))
        return scope

    @functools.cached_property
    def _scopes(self) -> dict[int, Scope]:
        return {}

    @functools.cached_property
    def _paths_cache(self) -> dict[tuple[int, int], frozenset[str] | None]:
        return {}

    def classify(self, expr: cst.CSTNode, scope: Scope) -> Kind:
        """Which collection the variable(s) that `expr` evaluates to belong to.

        A write that may reach several collections is classified by the one
        that matters most: a trainable, then a non-trainable variable, then
        any model weight; only writes that reach local variables alone are
        local.
        """
        paths = self.paths_of(expr, scope)
        if not paths:
            return UNKNOWN
        kinds = {self._path_collection(path) for path in paths}
        (single,) = paths if len(paths) == 1 else (None,)
        if single is not None and single.split(".")[0] in COLLECTIONS + ("weights",):
            single = None
        for worst in ("trainable_variables", "non_trainable_variables", "weights"):
            if worst in kinds:
                return Kind(worst, single, True)
        if len(kinds) != 1 or None in kinds:
            return Kind(None, single, True)
        return Kind(kinds.pop(), single, True)

    def _path_collection(self, path: str) -> str | None:
        head = path.split(".")[0]
        if head in COLLECTIONS:
            return head
        if path in ("weights.trainable", "weights.non_trainable"):
            return path.replace("weights.", "") + "_variables"
        if head == "weights":
            return "weights"
        return self.collection_of(path)

    def paths_of(
        self, expr: cst.CSTNode, scope: Scope, depth: int = 0
    ) -> frozenset[str] | None:
        """The `self.<path>`s whose variables `expr` may evaluate to; None when unknown.

        Follows local names (assignments, `for` targets, `zip`/`enumerate`
        unpacking), parameters (through the arguments of every call of the
        function from the class), attributes and literal subscripts of
        what it follows (a namedtuple's field, a dict's key; of a dict, list or
        keyword-built namedtuple literal, the element itself), `zip` pairs bound
        through names and parameters, list and tuple
        literals, `+`, other subscripts (the whole container), `list(...)`,
        `tuple(...)`, `tf.nest.flatten(...)`, `.values()`, and calls of
        methods of the class (through what they return). `self` is the
        path "". Results are cached; a cycle or a chain deeper than
        `MAX_FOLLOW` is unknown.
        """
        key = (id(expr), id(scope))
        cache = self._paths_cache
        if key in cache:
            return cache[key]
        if depth > MAX_FOLLOW or len(cache) > MAX_FOLLOWED:
            return None
        cache[key] = None  # a cycle back to this expression is unknown
        found = self._paths_of(expr, scope, depth)
        cache[key] = found
        return found

    def _paths_of(
        self, expr: cst.CSTNode, scope: Scope, depth: int
    ) -> frozenset[str] | None:
        parts: list[tuple[cst.CSTNode, Scope]] = []
        if isinstance(expr, cst.Name):
            bound = scope.bindings.get(expr.value)
            if not bound:
                return frozenset({""}) if expr.value == "self" else None
            pending = [(binding, scope, 0) for binding in bound]
            budget = MAX_CALL_SITES * 4  # names bound to names bound to ...: bounded
            while pending:
                budget -= 1
                if budget < 0:
                    return None
                binding, where, hops = pending.pop()
                origin = where if binding.origin is None else self.scope(binding.origin)
                value = _follow(binding)
                if (
                    value is None
                    and binding.steps
                    and isinstance(binding.value, cst.Name)
                    and hops < MAX_FOLLOW
                ):  # `for v, g in pairs`, `pairs` a name or parameter bound to `zip(...)`
                    inner = origin.bindings.get(binding.value.value)
                    if inner:
                        pending.extend(
                            (
                                Binding(b.value, b.steps + binding.steps, b.origin),
                                origin,
                                hops + 1,
                            )
                            for b in inner
                        )
                        continue
                if value is None:
                    return None
                parts.append((value, origin))
        elif isinstance(expr, cst.Attribute):
            selected = self._select(expr.value, expr.attr.value, scope)
            if selected is not None:
                return self.paths_of(*selected, depth + 1)
            base = self.paths_of(expr.value, scope, depth + 1)
            if base is None:
                return None
            return frozenset(_join(p, expr.attr.value) for p in base)
        elif isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
            parts = [(element.value, scope) for element in expr.elements]
        elif isinstance(expr, cst.Subscript):
            index = _subscript_key(expr)
            selected = None if index is None else self._select(expr.value, index, scope)
            if selected is not None:
                return self.paths_of(*selected, depth + 1)
            base = self.paths_of(expr.value, scope, depth + 1)
            if base is None or index is None:
                return base
            return frozenset(_join(p, index) for p in base)
        elif isinstance(expr, cst.BinaryOperation) and isinstance(
            expr.operator, cst.Add
        ):
            parts = [(expr.left, scope), (expr.right, scope)]
        elif isinstance(expr, cst.Call):
            method = self._called_method(expr)
            if method is not None:
                inner = self.scope(method)
                found: set[str] = set()
                for ret in self.module.returns(method):
                    if ret.value is None:
                        return None
                    paths = self.paths_of(ret.value, inner, depth + 1)
                    if paths is None:
                        return None
                    found |= paths
                return frozenset(found)
            if (
                m.matches(expr.func, m.Name("list") | m.Name("tuple"))
                or self.module.call_name(expr) == "tensorflow.nest.flatten"
            ) and expr.args:
                parts = [(expr.args[0].value, scope)]
            elif (
                m.matches(expr.func, m.Attribute(attr=m.Name("values")))
                and not expr.args
            ):
                parts = [(expr.func.value, scope)]  # type: ignore[union-attr]
            else:
                return None
        else:
            return None
        result: set[str] = set()
        for part, where in parts:
            paths = self.paths_of(part, where, depth + 1)
            if paths is None:
                return None
            result |= paths
        return frozenset(result)

    def _resolve(
        self, expr: cst.BaseExpression, scope: Scope
    ) -> tuple[cst.BaseExpression, Scope]:
        """`expr` followed through names bound exactly once (an assignment, or the
        one call that binds a parameter), with the scope of what it ends at."""
        for _ in range(MAX_FOLLOW):
            if not isinstance(expr, cst.Name):
                break
            bound = scope.bindings.get(expr.value, ())
            if len(bound) != 1 or bound[0].steps or bound[0].value is None:
                break
            if bound[0].origin is not None:
                scope = self.scope(bound[0].origin)
            expr = bound[0].value
        return expr, scope

    def _select(
        self, container: cst.BaseExpression, part: str, scope: Scope
    ) -> tuple[cst.BaseExpression, Scope] | None:
        """The element `part` (a field, `['key']` or `[0]`) of a container literal that
        `container` is bound to: a dict or list literal, a namedtuple built with
        keywords (`Counters(steps=self._n)`); None for anything else."""
        value, where = self._resolve(container, scope)
        if isinstance(value, cst.Dict) and part.startswith("['"):
            for element in value.elements:
                if (
                    isinstance(element, cst.DictElement)
                    and isinstance(element.key, cst.SimpleString)
                    and f"[{element.key.evaluated_value!r}]" == part
                ):
                    return element.value, where
        elif isinstance(value, (cst.List, cst.Tuple)) and part[1:-1].isdigit():
            index = int(part[1:-1])
            elements = value.elements
            if index < len(elements) and not any(
                isinstance(e, cst.StarredElement) for e in elements[: index + 1]
            ):
                return elements[index].value, where
        elif (
            isinstance(value, cst.Call)
            and isinstance(value.func, cst.Name)
            and self.module.namedtuple_fields(value.func.value) is not None
        ):
            for arg in value.args:
                if arg.keyword is not None and arg.keyword.value == part:
                    return arg.value, where
        return None

    def _called_method(self, call: cst.Call) -> cst.FunctionDef | None:
        """The method of this class that `call` (`self.name(...)`) calls, if any."""
        if m.matches(call.func, m.Attribute(value=m.Name("self"))):
            method = self.members.get(call.func.attr.value)  # type: ignore[union-attr]
            if method is not None and not self.is_property(method):
                return method
        return None


INTERNAL_NAMES = (
    (
        f"{TFF}.python.core.environments.tensorflow_frontend.tensorflow_computation.tf_computation",
        f"{TFF}.tensorflow.computation",
    ),
    (
        f"{TFF}.python.core.impl.tensorflow_context.tensorflow_computation.tf_computation",
        f"{TFF}.tensorflow.computation",
    ),
    (f"{TFF}.python.core.impl.federated_context.intrinsics", TFF),
    (f"{TFF}.python.core.impl.federated_context.federated_computation", TFF),
    (f"{TFF}.python.core.api.intrinsics", TFF),
    (f"{TFF}.python.core.api.computations", TFF),
    (f"{TFF}.python.core.templates.measured_process", f"{TFF}.templates"),
    (f"{TFF}.python.learning.models.variable", f"{TFF}.learning.models"),
    (f"{TFF}.python.learning.model", f"{TFF}.learning"),
    (f"{TFF}.python.learning", f"{TFF}.learning"),
    (f"{TFF}.python", TFF),
)
"""TFF-internal modules (or names) and the public name of what they hold, most specific
first: TFF's own code and code copied from it import `...learning.models.variable`,
`...federated_context.intrinsics` or `tensorflow_federated.python` itself (as `tff`)."""


def canonical(name: str) -> str:
    """`name`, with a TFF-internal module spelled as the public API that exports it.

    `tensorflow_federated.python` and the modules of `INTERNAL_NAMES` are
    replaced, and a name below them keeps its tail (`...intrinsics.federated_max`
    is `tensorflow_federated.federated_max`); other internal names are kept.
    """
    if not name.startswith(f"{TFF}.python"):
        return name
    for internal, public in INTERNAL_NAMES:
        if name == internal or (
            name.startswith(internal + ".") and internal != f"{TFF}.python"
        ):
            return public + name[len(internal) :]
    return name


def _flavour_of(base: str) -> str | None:
    """The model flavour a base class named `base` (resolved) gives, if any.

    Only TFF's own classes count: a local or third-party class that happens
    to be called `VariableModel` is followed (if local) but is no TFF base.
    """
    if base in MODERN_BASES:
        return "modern"
    if base == CLASSIC_BASES[0]:
        return "classic"
    if base == CLASSIC_BASES[1]:
        return "trainable"
    return None


def _follow(binding: Binding) -> cst.BaseExpression | None:
    """The expression a binding takes its value from, through `zip`/`enumerate` unpacking."""
    value = binding.value
    for step in binding.steps:
        if value is None:
            return None
        if step == "element":
            continue
        if isinstance(value, cst.Call) and m.matches(value.func, m.Name("zip")):
            if step >= len(value.args):
                return None
            value = value.args[step].value
        elif isinstance(value, cst.Call) and m.matches(value.func, m.Name("enumerate")):
            if step != 1 or not value.args:
                return None
            value = value.args[0].value
        else:
            return None
    return value


@dataclass(frozen=True)
class Binding:
    """A name bound to `value`, or to an element of it reached by `steps`.

    Steps: "element" (one item of an iterable) or an int (position in a
    tuple target unpacked from `zip(...)` / `enumerate(...)`). `value` is
    None when nothing known binds the name (a parameter some call leaves to
    `*args`); `origin` is the calling function whose scope `value` is
    evaluated in, for a parameter bound by a call's argument.
    """

    value: cst.BaseExpression | None
    steps: tuple = ()
    origin: cst.FunctionDef | None = None


class Scope:
    """The names a function binds by assignment, `for`, `with ... as` and comprehensions."""

    def __init__(self, module: SourceModule, function: FunctionNode) -> None:
        self.function = function
        self.bindings: dict[str, list[Binding]] = {}
        for node in module.findall(
            function, m.Assign() | m.For() | m.CompFor() | m.WithItem()
        ):
            if isinstance(node, cst.Assign):
                for target in node.targets:
                    self._bind(target.target, Binding(node.value))
            elif isinstance(node, (cst.For, cst.CompFor)):
                self._bind(node.target, Binding(node.iter, ("element",)))
            elif isinstance(node, cst.WithItem) and node.asname is not None:
                self._bind(node.asname.name, Binding(node.item))

    def _bind(self, target: cst.CSTNode, binding: Binding) -> None:
        if isinstance(target, cst.Name):
            self.bindings.setdefault(target.value, []).append(binding)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for index, element in enumerate(target.elements):
                self._bind(
                    element.value, Binding(binding.value, (*binding.steps, index))
                )


def assignments_in(
    module: SourceModule, node: cst.CSTNode
) -> Iterator[tuple[cst.Call, cst.BaseExpression | None]]:
    """(call, receiver) for every variable write in `node`.

    Writes are `v.assign*` / `v.scatter_*` method calls, the `tf.compat.v1`
    and `tf.raw_ops` assign functions, and `optimizer.apply_gradients(zip(g, v))`
    (the receiver is then `v`). The receiver is None when it cannot be told.
    """
    for call in module.findall(node, m.Call()):
        assert isinstance(call, cst.Call)
        func = call.func
        if isinstance(func, cst.Attribute):
            attr = func.attr.value
            if attr in ASSIGN_METHODS or attr.startswith("scatter_"):
                name = module.qualname(func) or ""
                if name.startswith("tensorflow.") and call.args:
                    yield call, call.args[0].value
                elif not name.startswith("tensorflow."):
                    yield call, func.value
                continue
            if attr == "apply_gradients":
                pairs = call.args[0].value if call.args else None
                if (
                    isinstance(pairs, cst.Call)
                    and m.matches(pairs.func, m.Name("zip"))
                    and len(pairs.args) == 2
                ):
                    yield call, pairs.args[1].value
                else:
                    yield call, None
                continue
        name = module.call_name(call) or ""
        if name in ASSIGN_FUNCTIONS or name.startswith(
            ("tensorflow.compat.v1.scatter_", "tensorflow.raw_ops.ResourceScatter")
        ):
            yield call, (call.args[0].value if call.args else None)


def _dotted(node: cst.CSTNode) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


def _self_path(node: cst.CSTNode) -> str | None:
    """ "a.b" for `self.a.b`; None for anything else."""
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name) and node.value == "self" and parts:
        return ".".join(reversed(parts))
    return None


def _self_paths(module: SourceModule, function: cst.CSTNode) -> Iterator[cst.Attribute]:
    """The outermost `self.a.b...` attribute chains in `function`, in source order."""
    inner: set[int] = set()
    for node in module.findall(function, m.Attribute()):
        if id(node) in inner:
            continue
        if _self_path(node) is not None:
            current = node.value
            while isinstance(current, cst.Attribute):
                inner.add(id(current))
                current = current.value
            yield node  # type: ignore[misc]


def path_prefixes(path: str) -> Iterator[str]:
    """`a` and `a.b` for `a.b.c`: each part of `path` before a `.`."""
    index = path.find(".")
    while index != -1:
        yield path[:index]
        index = path.find(".", index + 1)


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


def _subscript_key(node: cst.Subscript) -> str | None:
    """`[0]` or `['w']` for a subscript by one literal int or string; None otherwise."""
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    index = node.slice[0].slice.value
    if isinstance(index, cst.Integer):
        return f"[{index.evaluated_value}]"
    if isinstance(index, cst.SimpleString):
        return f"[{index.evaluated_value!r}]"
    return None


def _listed_path(
    module: SourceModule, node: cst.Attribute
) -> tuple[cst.CSTNode, str | None]:
    """A `self.a.b` chain extended through literal subscripts and attributes after them."""
    path = _self_path(node)
    current: cst.CSTNode = node
    for _ in range(MAX_FOLLOW):
        parent = module.parent(current)
        if isinstance(parent, cst.Subscript) and parent.value is current:
            key = _subscript_key(parent)
            if key is None:
                break
            path = f"{path}.{key}"
        elif (
            isinstance(parent, cst.Attribute)
            and parent.value is current
            and path is not None
            and ".[" in path
        ):
            path = f"{path}.{parent.attr.value}"
        else:
            break
        current = parent
    return current, path


def shown(path: str) -> str:
    """`self.<path>` as Python spells it (`self._vars['w']`, not `self._vars.['w']`)."""
    return "self." + path.replace(".[", "[") if path else "self"


def resolve_local(value: cst.BaseExpression, scope: Scope) -> cst.BaseExpression:
    """Follows a name bound once by plain assignment to its value."""
    seen = 0
    while isinstance(value, cst.Name) and seen < 10:
        bound = scope.bindings.get(value.value, [])
        if (
            len(bound) != 1
            or bound[0].steps
            or bound[0].value is None
            or bound[0].origin is not None
        ):
            break
        value = bound[0].value
        seen += 1
    return value


_SELF_CALL = m.Call(func=m.Attribute(value=m.Name("self")))
_SELF_OR_NAME_CALL = m.Call(func=m.Attribute(value=m.Name("self"))) | m.Call(
    func=m.Name()
)

_FIELDS: dict[type, tuple[str, ...]] = {}


def _children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The child nodes of `node`, read from its dataclass fields in declaration order."""
    names = _FIELDS.get(type(node))
    if names is None:
        names = tuple(
            f.name for f in dataclasses.fields(node) if _may_hold_indexed(f.type)
        )
        _FIELDS[type(node)] = names
    children: list[cst.CSTNode] = []
    for name in names:
        value = getattr(node, name)
        kind = type(value)
        if kind is tuple or kind is list:
            children.extend(v for v in value if _is_node(type(v)))
        elif _is_node(kind):
            children.append(value)
    return children


_NODE_TYPES: dict[type, bool] = {}


_TOKENS = (
    cst.BaseParenthesizableWhitespace,
    cst.Newline,
    cst.Comma,
    cst.Dot,
    cst.Colon,
    cst.Semicolon,
    cst.AssignEqual,
    cst.LeftParen,
    cst.RightParen,
    cst.LeftSquareBracket,
    cst.RightSquareBracket,
    cst.LeftCurlyBrace,
    cst.RightCurlyBrace,
    cst.BaseBinaryOp,
    cst.BaseBooleanOp,
    cst.BaseCompOp,
    cst.BaseAugOp,
)
"""Punctuation and whitespace nodes: no pass looks for them, so the index skips them."""


def _is_node(kind: type) -> bool:
    """Whether values of `kind` are nodes worth indexing; cached. libcst's node classes
    inherit for real, so their MRO answers without the (slow) ABC subclass checks."""
    known = _NODE_TYPES.get(kind)
    if known is None:
        mro = getattr(kind, "__mro__", ())
        known = _NODE_TYPES[kind] = cst.CSTNode in mro and not any(
            token in mro for token in _TOKENS
        )
    return known


def _may_hold_indexed(annotation: object) -> bool:
    """Whether a node field annotated `annotation` can hold a node the index keeps.

    A field typed only with punctuation and whitespace (`lpar: Sequence[LeftParen]`,
    `whitespace_after_func: BaseParenthesizableWhitespace`, `comma: Comma |
    MaybeSentinel`) never does, so `_children` does not read it. What the
    annotation does not say for sure (a string, an unknown form) is read.
    """
    arguments = typing.get_args(annotation)
    if arguments:
        return any(_may_hold_indexed(argument) for argument in arguments)
    if not isinstance(annotation, type):
        return not (annotation is None or isinstance(annotation, (int, str, enum.Enum)))
    if cst.CSTNode in annotation.__mro__:
        return not any(token in annotation.__mro__ for token in _TOKENS)
    return annotation not in (str, int, float, bool, type(None), cst.MaybeSentinel)


def _matcher_info(matcher: m.Matcher) -> tuple[tuple[type, ...], bool]:
    """The node classes a pattern can match, and whether it constrains any field."""
    options = matcher.options
    return tuple(dict.fromkeys(o.node_type for o in options)), any(
        o.fields for o in options
    )


def structure_keys(
    module: SourceModule, value: cst.CSTNode
) -> list[tuple[str, cst.CSTNode]] | None:
    """(key, node) of the mapping `value` builds: a dict literal, `OrderedDict(...)`, or
    `OrderedDict(... for name in NAMES)` over a module-level tuple of strings."""
    if isinstance(value, cst.Dict):
        keys = []
        for element in value.elements:
            if not isinstance(element, cst.DictElement) or not isinstance(
                element.key, cst.SimpleString
            ):
                return None
            keys.append((element.key.evaluated_value, element.key))
        return keys  # type: ignore[return-value]
    if not isinstance(value, cst.Call):
        return None
    name = module.call_name(value)
    if name == "tensorflow_federated.federated_zip" and value.args:
        return structure_keys(module, value.args[0].value)
    if name not in ("collections.OrderedDict", "dict"):
        return None
    if not value.args:
        return []
    if value.args and all(arg.keyword is not None for arg in value.args):
        return [(arg.keyword.value, arg.keyword) for arg in value.args]  # type: ignore[union-attr]
    if len(value.args) == 1 and isinstance(
        value.args[0].value, (cst.GeneratorExp, cst.ListComp)
    ):
        loop = value.args[0].value.for_in
        names = (
            module.assignments.get(loop.iter.value)
            if isinstance(loop.iter, cst.Name)
            else None
        )
        if isinstance(names, (cst.Tuple, cst.List)) and all(
            isinstance(e.value, cst.SimpleString) for e in names.elements
        ):
            return [(e.value.evaluated_value, value) for e in names.elements]  # type: ignore[union-attr]
    return None


def called_function(
    module: SourceModule, model: ModelClass, call: cst.Call
) -> cst.FunctionDef | None:
    """The method (`self.name(...)`) or module-level function (`name(...)`) `call` runs."""
    if m.matches(call.func, m.Attribute(value=m.Name("self"))):
        return model.members.get(call.func.attr.value)  # type: ignore[union-attr]
    if isinstance(call.func, cst.Name):
        return module.functions.get(call.func.value)
    return None
