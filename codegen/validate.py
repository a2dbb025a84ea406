"""Stage 2, validate: a loaded `Node` tree -> a frozen `Spec`, reporting every problem at once."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from codegen import catalogue
from codegen.catalogue import REQUIRED, Entry, Param
from codegen.catalogue.layers import REFUSED as REFUSED_LAYERS
from codegen.errors import Problem, SpecError
from codegen.load import LoadedSpec, Node, describe
from codegen.names import (
    CLASS_NAME,
    DOTTED_MODULE,
    FIXED_ATTRIBUTES,
    MAX_METRIC_NAME_LENGTH,
    MAX_NAME_LENGTH,
    SNAKE_NAME,
    builder_module_problem,
    metric_attributes,
    name_problem,
)
from codegen.shapes import Flow, ShapeError, check_stack, fmt
from codegen.spec import (
    Choice,
    Forward,
    Input,
    KerasBuilder,
    LayerStack,
    Metric,
    Spec,
    Variable,
)

FORMAT_VERSION = 1
TOP_LEVEL = (
    "wrapgen",
    "model",
    "output",
    "inputs",
    "label",
    "variables",
    "forward",
    "loss",
)
TOP_LEVEL += ("metrics", "training")


def validate(loaded: LoadedSpec) -> Spec:
    """Check the whole spec; raise `SpecError` listing every problem found."""
    checker = _Checker()
    spec = checker.spec(loaded.root)
    if checker.problems or spec is None:
        raise SpecError(checker.problems)
    return spec


def suggest(word: str, options: Mapping[str, object] | tuple[str, ...]) -> str:
    """A did-you-mean hint for `word` among `options`, or an empty string."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _listing(options: Mapping[str, object] | tuple[str, ...]) -> str:
    return ", ".join(sorted(options))


def _article(noun: str) -> str:
    """`noun` with "a" or "an" in front."""
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


MAX_LAYER_DEPTH = 4
"""Deepest nesting of sub-stacks: a residual block inside a residual block, 4 deep."""


class _Checker:
    """Holds the problems found so far; each method checks one part of the spec."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.stack_variables: dict[str, Variable] = {}
        self.used_variables: set[str] = set()
        self.references_ok = True
        self.layer_count = 0
        self.layer_depth = 0
        self.declared_variables: set[str] = set()
        """Every key under `variables`, valid or not: references to them are not unknown."""

    def fail(self, node: Node, field: str, message: str) -> None:
        self.problems.append(Problem(node.location, field, message))

    # -- generic shapes of values -------------------------------------------------

    def mapping(
        self,
        node: Node,
        field: str,
        allowed: tuple[str, ...],
        required: tuple[str, ...] = (),
    ) -> dict[str, Node] | None:
        if not node.is_mapping:
            self.fail(node, field, f"expected a mapping, found {describe(node)}")
            return None
        values: dict[str, Node] = node.value  # type: ignore[assignment]
        misspelt: set[str] = set()
        for key, where in node.key_locations.items():
            if key not in allowed:
                close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                misspelt.update(close)
                expected = f"one of {_listing(allowed)}" if allowed else "no keys"
                message = f"expected {expected}, found unknown key {key!r}{hint}"
                self.problems.append(Problem(where, _join(field, key), message))
        for key in required:
            if key not in values and key not in misspelt:
                self.fail(
                    node, _join(field, key), "expected this key, found it missing"
                )
        return values

    def text(self, node: Node, field: str) -> str | None:
        if isinstance(node.value, str):
            return node.value
        self.fail(node, field, f"expected a string, found {describe(node)}")
        return None

    def name(
        self,
        node: Node,
        field: str,
        pattern=SNAKE_NAME,
        what="a snake_case name",
        longest: int = MAX_NAME_LENGTH,
    ) -> str | None:
        value = self.text(node, field)
        if value is None:
            return None
        problem = name_problem(value, pattern, what, longest)
        if problem:
            self.fail(node, field, problem)
            return None
        return value

    def number(
        self,
        node: Node,
        field: str,
        param: Param,
        dtype: str = catalogue.TRAINING_DTYPE,
    ) -> object | None:
        """A boolean, integer or float parameter; a float must hold in float `dtype`."""
        if param.kind == "bool":
            if isinstance(node.value, bool):
                return node.value
            self.fail(node, field, f"expected true or false, found {describe(node)}")
            return None
        if param.kind == "int":
            low, high = catalogue.SEED_RANGE
            return self.integer(node, field, low, high, "an int64")
        if param.kind == "positive_int":
            return self.integer(node, field, 1, catalogue.MAX_DIMENSION, "an int32")
        return self.real(node, field, param.kind, dtype)

    def integer(
        self, node: Node, field: str, low: int, high: int, held_as: str
    ) -> int | None:
        """An integer from `low` to `high`: what the generated code passes as `held_as`."""
        value = node.value
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(node, field, f"expected an integer, found {describe(node)}")
            return None
        if low == 1 and value < 1:
            self.fail(node, field, f"expected a positive integer, found {value}")
            return None
        if not low <= value <= high:
            what = f"at most {high}" if low == 1 else f"from {low} to {high}"
            self.fail(
                node,
                field,
                f"expected an integer {what} ({held_as}), found {_written(node)}",
            )
            return None
        return value

    def real(self, node: Node, field: str, kind: str, dtype: str) -> float | None:
        """A number that float `dtype` holds finitely, in the range of `kind` there too."""
        value = node.value
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            self.fail(node, field, f"expected a number, found {describe(node)}")
            return None
        number = _as_float(value)
        held = catalogue.float_in(number, dtype)
        if held is None:
            self.fail(
                node,
                field,
                f"expected a finite number that {dtype} holds (magnitude at most "
                f"{catalogue.float_max(dtype)!r}), found {_written(node)}",
            )
            return None
        problem = _range_problem(kind, number, value) or _rounding_problem(
            kind, held, dtype, _written(node)
        )
        if problem:
            self.fail(node, field, problem)
            return None
        return number

    def shape(
        self, node: Node, field: str, batch: bool
    ) -> tuple[int | None, ...] | None:
        """Dimensions of at most `MAX_DIMENSION` each and `MAX_ELEMENTS` in all."""
        if not node.is_sequence:
            self.fail(
                node, field, f"expected a list of dimensions, found {describe(node)}"
            )
            return None
        dims: list[int | None] = []
        ok = True
        for index, item in enumerate(node.value):  # type: ignore[arg-type]
            where = f"{field}[{index}]"
            if batch and index == 0:
                if item.value is not None:
                    self.fail(
                        item,
                        where,
                        f"expected null (the batch dimension), found {describe(item)}",
                    )
                    ok = False
                dims.append(None)
                continue
            dim = self.dimension(item, where)
            ok = ok and dim is not None
            dims.append(dim)
        if batch and not dims:
            self.fail(
                node, field, "expected at least the batch dimension null, found []"
            )
            ok = False
        if not ok:
            return None
        return self.element_count(node, field, tuple(dims))

    def ids(self, node: Node, field: str) -> tuple[int, ...] | None:
        """A list of at most `MAX_IDS` distinct non-negative int64 ids (token ids)."""
        if not node.is_sequence:
            self.fail(node, field, f"expected a list of ids, found {describe(node)}")
            return None
        if not self.at_most(node, field, catalogue.MAX_IDS, "ids"):
            return None
        out: list[int] = []
        for index, item in enumerate(node.value):  # type: ignore[arg-type]
            value = self.integer(
                item, f"{field}[{index}]", 0, catalogue.SEED_RANGE[1], "an int64"
            )
            if value is None:
                return None
            if value in out:
                self.fail(
                    item,
                    f"{field}[{index}]",
                    f"expected distinct ids, found {value} again",
                )
                return None
            out.append(value)
        return tuple(out)

    def dimension(self, node: Node, field: str) -> int | None:
        """One dimension: a positive int32."""
        value = node.value
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            self.fail(
                node, field, f"expected a positive integer, found {describe(node)}"
            )
            return None
        if value > catalogue.MAX_DIMENSION:
            self.fail(
                node,
                field,
                f"expected a dimension of at most {catalogue.MAX_DIMENSION} (an int32), "
                f"found {_written(node)}",
            )
            return None
        return value

    def element_count(
        self, node: Node, field: str, dims: tuple[int | None, ...]
    ) -> tuple[int | None, ...] | None:
        """`dims`, unless they hold more than `MAX_ELEMENTS` elements (per example)."""
        count = math.prod(dim for dim in dims if dim is not None)
        if count <= catalogue.MAX_ELEMENTS:
            return dims
        per = " per example" if None in dims else ""
        self.fail(
            node,
            field,
            f"expected at most {catalogue.MAX_ELEMENTS} elements{per}, "
            f"found {fmt(dims)} with {count}",
        )
        return None

    def at_most(self, node: Node, field: str, limit: int, what: str) -> bool:
        """Whether mapping or list `node` has at most `limit` entries; reports it if not."""
        count = len(node.value)  # type: ignore[arg-type]
        if count <= limit:
            return True
        self.fail(node, field, f"expected at most {limit} {what}, found {count}")
        return False

    def choice(
        self,
        node: Node,
        field: str,
        table: Mapping[str, Entry],
        what: str,
        dtype: str = catalogue.TRAINING_DTYPE,
    ) -> tuple[Choice, dict[str, Node]] | None:
        """A catalogue pick: `kind` or a one-key mapping `kind: {param: value}`.

        Float parameters must hold in float `dtype`, where the generated code
        puts them.
        """
        if isinstance(node.value, str):
            kind, params_node = node.value, None
        elif node.is_mapping and len(node.value) == 1:  # type: ignore[arg-type]
            kind, params_node = next(iter(node.value.items()))  # type: ignore[union-attr]
        else:
            self.fail(
                node,
                field,
                f"expected {_article(what)} name or a one-key mapping, found {describe(node)}",
            )
            return None
        if what == "layer" and kind in REFUSED_LAYERS:
            self.fail(
                node,
                field,
                f"expected a layer of the catalogue, found {kind!r}: {REFUSED_LAYERS[kind]}",
            )
            return None
        if kind not in table:
            hint = suggest(kind, table)
            if what == "layer" and not hint:
                hint = (
                    " (for a layer the catalogue lacks, build the model in Keras and "
                    "write forward: {keras: module:function})"
                )
            self.fail(
                node,
                field,
                f"expected {_article(what)} ({_listing(table)}), found {kind!r}{hint}",
            )
            return None
        entry = table[kind]
        field = _join(field, kind)
        given: dict[str, Node] = {}
        if params_node is not None and params_node.value is not None:
            names = tuple(name for name, _ in entry.params)
            given = self.mapping(params_node, field, names) or {}
        params: dict[str, object] = {}
        before = len(self.problems)
        for name, param in entry.params:
            if name in given:
                params[name] = self.param(given[name], _join(field, name), param, dtype)
            elif param.default is REQUIRED:
                self.fail(
                    params_node or node,
                    _join(field, name),
                    "expected this key, found it missing",
                )
            else:
                params[name] = param.default
        if len(self.problems) > before:
            return None
        return Choice.of(kind, params, node.location), given

    def param(self, node: Node, field: str, param: Param, dtype: str) -> object | None:
        if param.kind == "variable":
            return self.text(node, field)
        if param.kind == "enum":
            value = self.text(node, field)
            if value is not None and value not in param.choices:
                hint = suggest(value, param.choices)
                self.fail(
                    node,
                    field,
                    f"expected one of {', '.join(param.choices)}, found {value!r}{hint}",
                )
                return None
            return value
        if param.kind == "shape":
            dims = self.shape(node, field, batch=False)
            return tuple(dims) if dims is not None else None
        if param.kind == "ids":
            return self.ids(node, field)
        if param.kind == "layers":
            return self.layer_items(node, field)
        return self.number(node, field, param, dtype)

    # -- the spec's sections ---------------------------------------------------------

    def spec(self, root: Node) -> Spec | None:
        top = self.mapping(
            root,
            "",
            TOP_LEVEL,
            (
                "wrapgen",
                "model",
                "inputs",
                "label",
                "forward",
                "loss",
                "metrics",
                "training",
            ),
        )
        if top is None:
            return None
        version = self.version(top.get("wrapgen"))
        name, description = self.model(top.get("model"))
        inputs = self.inputs(top.get("inputs"))
        label = self.label(top.get("label"), inputs)
        variables = self.variables(top.get("variables"))
        forward = self.forward(top.get("forward"), inputs, label, variables)
        training = _narrowest_float(v.dtype for v in variables.values() if v.trainable)
        loss = self.loss(top.get("loss"), inputs, label, forward, training)
        metrics = self.metrics(top.get("metrics"), inputs, label, loss, forward)
        optimizer = self.optimizer(top.get("training"), training)
        output = self.output(top.get("output"))
        self.unique_names(inputs, variables, metrics)
        self.generated_attributes(variables, metrics)
        if self.problems:
            return None
        return Spec(
            version=version,  # type: ignore[arg-type]
            name=name,  # type: ignore[arg-type]
            description=description,  # type: ignore[arg-type]
            inputs=tuple(inputs.values()),
            label=label,  # type: ignore[arg-type]
            variables=tuple(variables.values()),
            forward=forward,  # type: ignore[arg-type]
            loss=loss,  # type: ignore[arg-type]
            metrics=tuple(metrics),
            optimizer=optimizer,  # type: ignore[arg-type]
            output=output,
        )

    def version(self, node: Node | None) -> int | None:
        if node is None:
            return None
        if node.value != FORMAT_VERSION or isinstance(node.value, bool):
            self.fail(
                node,
                "wrapgen",
                f"expected format version {FORMAT_VERSION}, found {describe(node)}",
            )
            return None
        return FORMAT_VERSION

    def model(self, node: Node | None) -> tuple[str | None, str | None]:
        if node is None:
            return None, None
        values = self.mapping(
            node, "model", ("name", "description"), ("name", "description")
        )
        if values is None:
            return None, None
        name = None
        if "name" in values:
            name = self.name(
                values["name"], "model.name", CLASS_NAME, "a CamelCase class name"
            )
        description = None
        if "description" in values:
            description = self.text(values["description"], "model.description")
            if description is not None and (
                not description.strip()
                or not description.isprintable()
                or len(description) > 200
            ):
                found = describe(values["description"])
                self.fail(
                    values["description"],
                    "model.description",
                    f"expected one printable line of at most 200 characters, found {found}",
                )
                description = None
        return name, description

    def inputs(self, node: Node | None) -> dict[str, Input]:
        if node is None:
            return {}
        if not node.is_mapping:
            self.fail(
                node,
                "inputs",
                f"expected a mapping of input names, found {describe(node)}",
            )
            return {}
        if not self.at_most(node, "inputs", catalogue.MAX_INPUTS, "inputs"):
            return {}
        result: dict[str, Input] = {}
        for key, value in node.value.items():  # type: ignore[union-attr]
            field = f"inputs.{key}"
            key_node = Node(key, node.key_locations[key])
            name = self.name(key_node, field)
            values = self.mapping(value, field, ("dtype", "shape"), ("dtype", "shape"))
            if (
                name is None
                or values is None
                or "dtype" not in values
                or "shape" not in values
            ):
                continue
            dtype = self.dtype(values["dtype"], f"{field}.dtype")
            shape = self.shape(values["shape"], f"{field}.shape", batch=True)
            if dtype is not None and shape is not None:
                result[name] = Input(name, dtype, shape, key_node.location)
        if len(node.value) < 2:  # type: ignore[arg-type]
            self.fail(
                node,
                "inputs",
                f"expected a label and at least one feature, found {len(node.value)} input(s)",
            )  # type: ignore[arg-type]
        return result

    def dtype(self, node: Node, field: str) -> str | None:
        value = self.text(node, field)
        if value is not None and value not in catalogue.DTYPES:
            self.fail(
                node,
                field,
                f"expected one of {', '.join(catalogue.DTYPES)}, found {value!r}{suggest(value, catalogue.DTYPES)}",
            )
            return None
        return value

    def label(self, node: Node | None, inputs: dict[str, Input]) -> str | None:
        if node is None:
            return None
        value = self.text(node, "label")
        if value is not None and inputs and value not in inputs:
            self.fail(
                node,
                "label",
                f"expected one of the inputs ({_listing(tuple(inputs))}), found {value!r}{suggest(value, tuple(inputs))}",
            )
            return None
        return value

    def variables(self, node: Node | None) -> dict[str, Variable]:
        if node is None:
            return {}
        if not node.is_mapping:
            self.fail(
                node,
                "variables",
                f"expected a mapping of variable names, found {describe(node)}",
            )
            return {}
        result: dict[str, Variable] = {}
        allowed = ("shape", "dtype", "initializer", "trainable", "l2")
        self.declared_variables.update(node.value)  # type: ignore[arg-type]
        if not self.at_most(node, "variables", catalogue.MAX_VARIABLES, "variables"):
            return {}
        for key, value in node.value.items():  # type: ignore[union-attr]
            field = f"variables.{key}"
            key_node = Node(key, node.key_locations[key])
            name = self.name(key_node, field)
            values = self.mapping(value, field, allowed, ("shape", "initializer"))
            if (
                name is None
                or values is None
                or "shape" not in values
                or "initializer" not in values
            ):
                continue
            shape = self.shape(values["shape"], f"{field}.shape", batch=False)
            dtype = (
                self.dtype(values["dtype"], f"{field}.dtype")
                if "dtype" in values
                else "float32"
            )
            picked = self.choice(
                values["initializer"],
                f"{field}.initializer",
                catalogue.INITIALIZERS,
                "initializer",
                dtype if dtype in catalogue.FLOAT_DTYPES else "float64",
            )
            trainable: object = True
            if "trainable" in values:
                trainable = self.number(
                    values["trainable"], f"{field}.trainable", Param("bool")
                )
            l2: object = 0.0
            if "l2" in values:
                l2 = self.number(
                    values["l2"],
                    f"{field}.l2",
                    Param("non_negative"),
                    dtype if dtype in catalogue.FLOAT_DTYPES else "float32",
                )
            if (
                shape is None
                or dtype is None
                or picked is None
                or trainable is None
                or l2 is None
            ):
                continue
            if l2 and (not trainable or dtype not in catalogue.FLOAT_DTYPES):
                self.fail(
                    values["l2"],
                    f"{field}.l2",
                    f"expected l2 only on a trainable float variable, found l2 {l2!r} on "
                    f"{'a non-trainable' if not trainable else 'an ' + dtype} variable",
                )
                continue
            if dtype not in catalogue.FLOAT_DTYPES and (
                trainable
                or catalogue.INITIALIZERS[picked[0].kind].hook("RANDOM", False)
            ):
                self.fail(
                    values["dtype"],
                    f"{field}.dtype",
                    f"expected a float dtype for a trainable or randomly initialised variable, found {dtype}",
                )
                continue
            initializer = self.constant_held(picked, dtype, f"{field}.initializer")
            if initializer is None:
                continue
            variable = Variable(
                name,
                dtype,
                shape,
                initializer,
                bool(trainable),
                key_node.location,
                float(l2),  # type: ignore[arg-type]
            )
            check = catalogue.INITIALIZERS[initializer.kind].hook("check")
            try:
                if check is not None:
                    check(variable)
            except ShapeError as exc:
                where = f"{field}.initializer.{initializer.kind}"
                self.fail(values["initializer"], where, str(exc))
                continue
            result[name] = variable
        return result

    def constant_held(
        self, picked: tuple[Choice, dict[str, Node]], dtype: str, field: str
    ) -> Choice | None:
        """The initializer, with a constant for an integer or bool variable checked.

        An integer variable's constant must be a whole number its dtype holds
        (kept exact, not rounded through a float); a bool's must be 0 or 1.
        """
        initializer, given = picked
        if initializer.kind != "constant" or dtype in catalogue.FLOAT_DTYPES:
            return initializer
        node = given["value"]
        value = node.value
        field = f"{field}.constant.value"
        if dtype == "bool":
            if value in (0, 1):
                return initializer
            self.fail(node, field, f"expected 0 or 1 (bool), found {_written(node)}")
            return None
        low, high = catalogue.INT_RANGES[dtype]
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and low <= value <= high:
            return Choice.of("constant", {"value": value}, initializer.location)
        self.fail(
            node,
            field,
            f"expected a whole number from {low} to {high} ({dtype}), found {_written(node)}",
        )
        return None

    def forward(
        self,
        node: Node | None,
        inputs: dict[str, Input],
        label: str | None,
        variables: dict[str, Variable],
    ) -> Forward | None:
        if node is None:
            return None
        values = self.mapping(node, "forward", ("layers", "input", "keras"))
        if values is None:
            return None
        if ("layers" in values) == ("keras" in values):
            self.fail(
                node,
                "forward",
                "expected exactly one of layers or keras, found "
                + ("both" if values else "neither"),
            )
            return None
        if "keras" in values:
            return self.keras(values, variables)
        return self.layers(values, inputs, label, variables)

    def keras(
        self, values: dict[str, Node], variables: dict[str, Variable]
    ) -> KerasBuilder | None:
        node = values["keras"]
        if "input" in values:
            self.fail(
                values["input"],
                "forward.input",
                "expected no input with keras (the Keras model takes every feature), found one",
            )
        if variables:
            first = next(iter(variables.values()))
            self.problems.append(
                Problem(
                    first.location,
                    "variables",
                    "expected no variables with a Keras builder (the Keras model owns its variables), found some",
                )
            )
        text = self.text(node, "forward.keras")
        if text is None:
            return None
        module, _, function = text.partition(":")
        well_formed = DOTTED_MODULE.match(module) and not name_problem(
            function, SNAKE_NAME, "a function name"
        )
        reason = builder_module_problem(module) if well_formed else None
        if well_formed and reason is None:
            return KerasBuilder(module, function, node.location)
        self.fail(
            node,
            "forward.keras",
            "expected module:function naming a zero-argument function in your own "
            "module that returns a Keras model (e.g. my_models:build_model), "
            f"found {text!r}" + (f" ({reason})" if reason else ""),
        )
        return None

    def layers(
        self,
        values: dict[str, Node],
        inputs: dict[str, Input],
        label: str | None,
        variables: dict[str, Variable],
    ) -> LayerStack | None:
        features = [name for name in inputs if name != label]
        source: str | None = None
        if "input" in values:
            source = self.text(values["input"], "forward.input")
            if source is not None and source not in features:
                self.fail(
                    values["input"],
                    "forward.input",
                    f"expected a feature input ({_listing(tuple(features))}), found {source!r}{suggest(source, tuple(features))}",
                )
                source = None
        elif len(features) == 1:
            source = features[0]
        elif features and label is not None:
            self.fail(
                values["layers"],
                "forward.input",
                f"expected input naming the feature the layers read ({_listing(tuple(features))}), found it missing",
            )
        node = values["layers"]
        self.stack_variables = variables
        self.used_variables = set()
        self.references_ok = True
        self.layer_count = 0
        self.layer_depth = 0
        if node.is_sequence and not self.at_most(
            node, "forward.layers", catalogue.MAX_LAYERS, "layers"
        ):
            return None
        items = self.layer_items(node, "forward.layers")
        if items is None:
            return None
        layers = list(items)
        used = self.used_variables
        ok = self.references_ok
        for name, variable in variables.items():
            if ok and name not in used:
                self.problems.append(
                    Problem(
                        variable.location,
                        f"variables.{name}",
                        "expected every variable to be used by a layer, found it unused",
                    )
                )
        if not ok or source is None or source not in inputs:
            return None
        start = Flow(inputs[source].shape, inputs[source].dtype)
        flow, problems = check_stack(start, tuple(layers), variables, "forward.layers")
        self.problems.extend(problems)
        if flow is None:
            return None
        return LayerStack(source, tuple(layers), flow.shape)

    def layer_items(self, node: Node, field: str) -> tuple[Choice, ...] | None:
        """A non-empty list of layers (the stack, or a sub-stack of a layer)."""
        if not node.is_sequence or not node.value:
            self.fail(
                node,
                field,
                f"expected a non-empty list of layers, found {describe(node)}",
            )
            return None
        if self.layer_depth > MAX_LAYER_DEPTH:
            self.fail(
                node,
                field,
                f"expected sub-stacks (residual blocks) nested at most {MAX_LAYER_DEPTH} deep, found deeper nesting",
            )
            return None
        layers: list[Choice] = []
        ok = True
        self.layer_depth += 1
        try:
            for index, item in enumerate(node.value):  # type: ignore[arg-type]
                where = f"{field}[{index}]"
                self.layer_count += 1
                if self.layer_count == catalogue.MAX_LAYERS + 1:
                    self.fail(
                        item,
                        where,
                        f"expected at most {catalogue.MAX_LAYERS} layers in all (nested ones included), found more",
                    )
                if self.layer_count > catalogue.MAX_LAYERS:
                    return None
                picked = self.choice(item, where, catalogue.LAYERS, "layer", "float64")
                if picked is None:
                    ok = False
                    continue
                layer, given = picked
                self.references(layer, given, item, where)
                layers.append(layer)
        finally:
            self.layer_depth -= 1
        return tuple(layers) if ok else None

    def references(
        self, layer: Choice, given: dict[str, Node], item: Node, field: str
    ) -> None:
        """Each variable a layer names is declared (and counts as used)."""
        variables = self.stack_variables
        for param_name, param in catalogue.LAYERS[layer.kind].params:
            ref = layer.params.get(param_name)
            if param.kind != "variable" or ref is None:
                continue
            if ref not in variables:
                self.references_ok = False
                if ref in self.declared_variables:
                    continue  # declared but invalid: reported where it is declared
                where = given.get(param_name, item)
                self.fail(
                    where,
                    f"{field}.{layer.kind}.{param_name}",
                    f"expected a declared variable ({_listing(tuple(variables)) or 'none declared'}), found {ref!r}{suggest(str(ref), tuple(variables))}",
                )
            self.used_variables.add(str(ref))

    def loss(
        self,
        node: Node | None,
        inputs: dict[str, Input],
        label: str | None,
        forward: Forward | None,
        training: str,
    ) -> Choice | None:
        if node is None:
            return None
        picked = self.choice(node, "loss", catalogue.LOSSES, "loss", training)
        if picked is None:
            return None
        loss, given = picked
        if label in inputs and isinstance(forward, LayerStack):
            problem = _loss_fit(loss.kind, inputs[label], forward.output_shape)  # type: ignore[index]
            if problem:
                self.fail(node, f"loss.{loss.kind}", problem)
        elif label in inputs:
            problem = _label_fit(loss.kind, inputs[label], per_position=True)  # type: ignore[index]
            if problem:
                self.fail(node, f"loss.{loss.kind}", problem)
        if isinstance(forward, LayerStack):
            self.logits_after_activation(loss, given.get("from_logits", node), forward)
        return loss

    def logits_after_activation(
        self, loss: Choice, where: Node, forward: LayerStack
    ) -> None:
        """A loss with `from_logits: true` after a stack that ends in sigmoid or softmax
        would apply that activation twice."""
        if not loss.params.get("from_logits"):
            return
        ending = _final_activation(forward.layers)
        if ending is None:
            return
        index, layer = ending
        self.fail(
            where,
            f"loss.{loss.kind}.from_logits",
            f"expected false because forward.layers[{index}] ({layer.kind}) already "
            f"outputs probabilities (true would apply {layer.kind} twice; or drop that "
            "layer), found true",
        )

    def metrics(
        self,
        node: Node | None,
        inputs: dict[str, Input],
        label: str | None,
        loss: Choice | None,
        forward: Forward | None,
    ) -> list[Metric]:
        if node is None:
            return []
        if not node.is_mapping or not node.value:
            self.fail(
                node,
                "metrics",
                f"expected a mapping of metric names, found {describe(node)}",
            )
            return []
        if not self.at_most(node, "metrics", catalogue.MAX_METRICS, "metrics"):
            return []
        result: list[Metric] = []
        for key, value in node.value.items():  # type: ignore[union-attr]
            field = f"metrics.{key}"
            name = self.name(
                Node(key, node.key_locations[key]),
                field,
                longest=MAX_METRIC_NAME_LENGTH,
            )
            picked = self.choice(value, field, catalogue.METRICS, "metric")
            if name is None or picked is None:
                continue
            metric = Metric(
                name,
                picked[0].kind,
                str(picked[0].params["aggregation"]),
                node.key_locations[key],
                MappingProxyType(
                    {k: v for k, v in picked[0].params.items() if k != "aggregation"}
                ),
            )
            problem = _metric_fit(metric, loss, inputs.get(label or ""), forward)
            if problem:
                self.fail(value, f"{field}.{metric.kind}", problem)
            result.append(metric)
        needs_weight = any(metric.aggregation == "mean" for metric in result)
        has_weight = any(
            metric.kind == "num_examples" and metric.aggregation == "sum"
            for metric in result
        )
        if needs_weight and not has_weight:
            self.fail(
                node,
                "metrics",
                "expected a num_examples metric aggregated by sum (example-weighted means use it as their weight), found none",
            )
        return result

    def optimizer(self, node: Node | None, training: str) -> Choice | None:
        if node is None:
            return None
        values = self.mapping(node, "training", ("optimizer",), ("optimizer",))
        if not values or "optimizer" not in values:
            return None
        picked = self.choice(
            values["optimizer"],
            "training.optimizer",
            catalogue.OPTIMIZERS,
            "optimizer",
            training,
        )
        return picked[0] if picked else None

    def output(self, node: Node | None) -> str | None:
        if node is None:
            return None
        value = self.text(node, "output")
        if value is None:
            return None
        parts = value.replace("\\", "/").split("/")
        if (
            not value.endswith(".py")
            or value.startswith("/")
            or ".." in parts
            or ":" in value
            or not value.isprintable()
        ):
            self.fail(
                node,
                "output",
                f"expected a relative path ending in .py inside the spec's folder, found {value!r}",
            )
            return None
        return value

    def unique_names(
        self,
        inputs: dict[str, Input],
        variables: dict[str, Variable],
        metrics: list[Metric],
    ) -> None:
        seen: dict[str, str] = {}
        for kind, items in (
            ("input", inputs.values()),
            ("variable", variables.values()),
            ("metric", metrics),
        ):
            for item in items:
                if (
                    kind != "input"
                    and item.name in seen
                    and not (kind == "metric" and seen[item.name] == "input")
                ):
                    self.problems.append(
                        Problem(
                            item.location,
                            f"{kind}s.{item.name}",
                            f"expected a name not already used by an {seen[item.name]}, found {item.name!r} again",
                        )
                    )
                seen.setdefault(item.name, kind)

    def generated_attributes(
        self, variables: dict[str, Variable], metrics: list[Metric]
    ) -> None:
        """Every attribute of the generated class that a spec name makes has one owner.

        A variable is `self.<name>`; a metric's accumulators come from
        `names.metric_attributes`, which the planner uses too. A name whose
        attribute another name already makes (metric `loss` makes
        `_metric_loss_count`, and so does a counter `loss_count`) is refused
        where it is written, after the first.
        """
        owners = dict.fromkeys(FIXED_ATTRIBUTES, ("the generated class", 0))
        claims = [
            (v, f"variables.{v.name}", f"variable {v.name!r}", (v.name,))
            for v in variables.values()
        ]
        claims += [
            (m, f"metrics.{m.name}", f"metric {m.name!r}", _metric_attributes(m))
            for m in metrics
        ]
        for item, field, owner, attributes in claims:
            taken = [a for a in attributes if owners.get(a, (owner,))[0] != owner]
            if taken:
                other, line = owners[taken[0]]
                where = f" (line {line})" if line else ""
                self.problems.append(
                    Problem(
                        item.location,
                        field,
                        f"expected a name whose generated attributes no other name makes, "
                        f"found {item.name!r}: self.{taken[0]} is also made for {other}{where}",
                    )
                )
                continue
            owners.update(dict.fromkeys(attributes, (owner, item.location.line)))


def _join(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key


def _written(node: Node) -> str:
    """A number as the spec writes it (`1.0e+400`, `.nan`), else its Python repr."""
    return node.text if node.text is not None else repr(node.value)


def _as_float(value: float) -> float:
    """`value` as a float64; an integer too large for one is infinite."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _range_problem(kind: str, number: float, value: object) -> str | None:
    """Why `number` (written `value`) is outside the range of parameter `kind`, or None."""
    if kind == "rate" and not 0.0 <= number < 1.0:
        return f"expected a number in [0, 1), found {value}"
    if kind == "positive" and not number > 0.0:
        return f"expected a number above 0, found {value}"
    if kind == "non_negative" and number < 0.0:
        return f"expected a number of 0 or more, found {value}"
    return None


def _rounding_problem(kind: str, held: float, dtype: str, written: str) -> str | None:
    """Why a number in range leaves it once rounded to `dtype` (`held`), or None."""
    if kind == "rate" and held >= 1.0:
        return f"expected a number in [0, 1), found {written}, which {dtype} rounds to {held!r}"
    if kind == "positive" and held <= 0.0:
        return f"expected a number above 0, found {written}, which {dtype} rounds to {held!r}"
    return None


def _narrowest_float(dtypes: Iterable[str]) -> str:
    """The narrowest float dtype among `dtypes` and `TRAINING_DTYPE`."""
    order = catalogue.FLOAT_DTYPES
    floats = [d for d in dtypes if d in order] + [catalogue.TRAINING_DTYPE]
    return min(floats, key=order.index)


def _metric_attributes(metric: Metric) -> tuple[str, ...]:
    return metric_attributes(metric.name, metric.kind in catalogue.COUNTER_METRICS)


def _final_activation(layers: tuple[Choice, ...]) -> tuple[int, Choice] | None:
    """The index and layer of a layer with probability outputs (sigmoid, softmax)
    that the stack's output comes from through layers that keep its meaning."""
    for index in range(len(layers) - 1, -1, -1):
        layer = layers[index]
        entry = catalogue.LAYERS[layer.kind]
        if entry.hook("PROBABILITIES", False):
            return index, layer
        if not entry.hook("KEEPS_MEANING", False):
            return None
    return None


def _label_fit(loss: str, label: Input, per_position: bool = False) -> str | None:
    """Why `label` cannot be the label of `loss`, or None."""
    return catalogue.LOSSES[loss].hook("label_problem")(label, per_position)


def _loss_fit(loss: str, label: Input, output: tuple[int | None, ...]) -> str | None:
    """A layer stack whose output has one more axis than a label of rank 2 or
    more (class scores per position) takes one label per position."""
    per_position = len(label.shape) >= 2 and len(output) == len(label.shape) + 1
    return _label_fit(loss, label, per_position) or catalogue.LOSSES[loss].hook(
        "output_problem"
    )(label, output)


def _metric_fit(
    metric: Metric,
    loss: Choice | None,
    label: Input | None,
    forward: Forward | None,
) -> str | None:
    problem = catalogue.METRICS[metric.kind].hook("problem")
    if problem is None or loss is None or label is None:
        return None
    return problem(loss, label, forward, metric.params)
