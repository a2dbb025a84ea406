"""Stage 3, plan: a `Spec` -> a `Plan` of precomputed source lines the templates place.

Every decision about the generated code is made here, in Python; the
templates contain no logic beyond placing these strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from codegen import __version__, catalogue
from codegen.catalogue import COUNTER_METRICS
from codegen.header import format_header
from codegen.names import metric_attributes
from codegen.pyfmt import (
    LINE_LENGTH,
    Call,
    Keyword,
    escape,
    flat,
    lines,
    string,
    subscript,
)
from codegen.shapes import Flow, apply
from codegen.spec import Choice, Input, KerasBuilder, LayerStack, Metric, Spec, Variable


@dataclass(frozen=True)
class Fragment:
    """Code a catalogue entry writes: its template (under `templates/`) and the
    plain data it is rendered with, laid out at `indent` levels."""

    template: str
    data: Mapping[str, Any] = field(default_factory=dict)
    indent: int = 2


@dataclass(frozen=True)
class Plan:
    """Everything the module template needs, as finished text."""

    template: str
    header: str
    class_name: str
    description: str
    spec_ref: str
    output_ref: str
    builder_import: tuple[str, ...]
    input_spec: tuple[str, ...]
    input_doc: str
    feature_specs: tuple[str, ...]
    metric_names: tuple[str, ...]
    metric_aggregations: tuple[str, ...]
    local_outputs_type: tuple[str, ...]
    optimizer_template: str
    optimizer_data: Mapping[str, Any]
    optimizer_constants: tuple[str, ...]
    optimizer_summary: str
    variable_docs: tuple[str, ...]
    variables: tuple[Fragment, ...]
    metric_init: tuple[str, ...]
    trainable: tuple[str, ...]
    non_trainable: tuple[str, ...]
    local: tuple[str, ...]
    predict_input: tuple[str, ...]
    layers: tuple[Fragment, ...]
    loss: Fragment
    regularization: tuple[str, ...]
    metric_updates: tuple[Fragment, ...]
    unfinalized: tuple[str, ...]
    finalizers: tuple[str, ...]
    classic_aggregation: tuple[str, ...]
    modern_aggregation: tuple[str, ...]
    batch_keys: tuple[str, ...]
    batch_loss: str
    helpers: tuple[str, ...]
    unfinalized_type: tuple[str, ...]
    initial_totals: tuple[str, ...]
    accumulated_totals: tuple[str, ...]
    finalized_totals: tuple[str, ...]


def plan(spec: Spec, spec_ref: str, output_ref: str, sha256: str) -> Plan:
    """Decide the text of every variable part of the module for `spec`."""
    keras = isinstance(spec.forward, KerasBuilder)
    header = format_header(__version__, spec_ref, sha256)
    weight = _weight(spec)
    layers = _Layers(spec) if isinstance(spec.forward, LayerStack) else None
    return Plan(
        template="keras_model.py.jinja" if keras else "layers_model.py.jinja",
        header=header,
        class_name=spec.name,
        description=escape(spec.description.strip()),
        spec_ref=escape(spec_ref),
        output_ref=escape(output_ref),
        builder_import=_builder_import(spec.forward),
        input_spec=_input_spec(spec),
        input_doc=_input_doc(spec),
        feature_specs=_feature_specs(spec),
        metric_names=tuple(
            lines(
                Call("", tuple(string(m.name) for m in spec.metrics)), "METRIC_NAMES = "
            )
        ),
        metric_aggregations=_ordered_dict(
            "METRIC_AGGREGATIONS = ",
            [(m.name, string(m.aggregation)) for m in spec.metrics],
        ),
        local_outputs_type=_ordered_dict(
            "LOCAL_OUTPUTS_TYPE = ",
            [
                (
                    m.name,
                    "tf.int64.as_numpy_dtype"
                    if m.kind in COUNTER_METRICS
                    else "tf.float32.as_numpy_dtype",
                )
                for m in spec.metrics
            ],
        ),
        optimizer_template=catalogue.OPTIMIZERS[spec.optimizer.kind].template,
        optimizer_data=_entry(catalogue.OPTIMIZERS, spec.optimizer).hook("data")(
            spec.optimizer.params
        ),
        optimizer_constants=_optimizer_constants(spec.optimizer),
        optimizer_summary=_optimizer_summary(spec.optimizer),
        variable_docs=tuple(_variable_doc(v) for v in spec.variables),
        variables=tuple(_variable(v) for v in spec.variables),
        metric_init=tuple(line for m in spec.metrics for line in _metric_init(m)),
        trainable=_keras_collection("trainable")
        if keras
        else _collection([v for v in spec.variables if v.trainable]),
        non_trainable=_keras_collection("non_trainable")
        if keras
        else _collection([v for v in spec.variables if not v.trainable]),
        local=_collection_of(
            tuple(_metric_variables(spec.metrics))
            + tuple(
                _entry(catalogue.OPTIMIZERS, spec.optimizer).hook("slots")(
                    spec.optimizer.params
                )
            )
        ),
        predict_input=_predict_input(spec),
        layers=layers.fragments if layers else (),
        loss=Fragment(
            catalogue.LOSSES[spec.loss.kind].template, {"p": spec.loss.params}
        ),
        regularization=_regularization(spec),
        metric_updates=tuple(_metric_update(m, spec) for m in spec.metrics),
        unfinalized=_ordered_dict(
            "return ", [(m.name, _unfinalized(m)) for m in spec.metrics], 2
        ),
        finalizers=_ordered_dict(
            "return ", [(m.name, _finalizer(m)) for m in spec.metrics], 2
        ),
        classic_aggregation=_ordered_dict(
            "return ",
            [(m.name, _classic_aggregation(m, weight)) for m in spec.metrics],
            3,
        ),
        modern_aggregation=_modern_sources(spec.metrics)
        + tuple(
            lines(
                Call(
                    "tff.federated_zip",
                    (
                        Call(
                            "collections.OrderedDict",
                            tuple(
                                Keyword(m.name, _modern_aggregation(m))
                                for m in spec.metrics
                            ),
                        ),
                    ),
                ),
                "return ",
                indent=2,
            )
        ),
        batch_keys=_batch_keys(spec),
        batch_loss=_batch_loss(spec),
        helpers=_helpers(spec, layers),
        unfinalized_type=_ordered_dict(
            "UNFINALIZED_METRICS_TYPE = ",
            [(m.name, _unfinalized_type(m)) for m in spec.metrics],
        ),
        initial_totals=_ordered_dict(
            "return ", [(m.name, _initial_total(m)) for m in spec.metrics], 2
        ),
        accumulated_totals=_ordered_dict(
            "return ", [(m.name, _accumulated_total(m)) for m in spec.metrics], 3
        ),
        finalized_totals=_ordered_dict(
            "return ", [(m.name, _finalized_total(m)) for m in spec.metrics], 3
        ),
    )


def _ordered_dict(
    prefix: str, items: list[tuple[str, Any]], indent: int = 0
) -> tuple[str, ...]:
    call = Call(
        "collections.OrderedDict", tuple(Keyword(name, value) for name, value in items)
    )
    return tuple(lines(call, prefix, indent=indent))


def _builder_import(forward: object) -> tuple[str, ...]:
    if not isinstance(forward, KerasBuilder):
        return ()
    return (f"from {forward.module} import {forward.function} as _build_keras_model",)


def _tensor_spec(item: Input) -> Call:
    shape = "[" + ", ".join("None" if d is None else str(d) for d in item.shape) + "]"
    return Call(
        "tf.TensorSpec",
        (
            Keyword("shape", shape),
            Keyword("dtype", f"tf.{item.dtype}"),
            Keyword("name", string(item.name)),
        ),
    )


def _features(spec: Spec) -> Call | Call:
    features = spec.features
    if len(features) == 1:
        return _tensor_spec(features[0])
    return Call(
        "collections.OrderedDict",
        tuple(Keyword(f.name, _tensor_spec(f)) for f in features),
    )


def _input_spec(spec: Spec) -> tuple[str, ...]:
    call = Call(
        "collections.OrderedDict",
        (Keyword("x", _features(spec)), Keyword("y", _tensor_spec(spec.label_input))),
    )
    return tuple(lines(call, "INPUT_SPEC = "))


def _input_doc(spec: Spec) -> str:
    names = ", ".join(f"`{f.name}`" for f in spec.features)
    if len(spec.features) == 1:
        return f'One batch: feature {names} under "x", label `{spec.label}` under "y".'
    return f'One batch: features {names} (a mapping) under "x", label `{spec.label}` under "y".'


def _feature_specs(spec: Spec) -> tuple[str, ...]:
    call = Call(
        "collections.OrderedDict",
        tuple(Keyword(f.name, _tensor_spec(f)) for f in spec.features),
    )
    return tuple(lines(call, "FEATURE_SPECS = "))


def _entry(table: Mapping[str, catalogue.Entry], choice: Choice) -> catalogue.Entry:
    return table[choice.kind]


def _optimizer_constants(optimizer: Choice) -> tuple[str, ...]:
    names = _entry(catalogue.OPTIMIZERS, optimizer).hook("constants")(optimizer.params)
    return tuple(f"{name.upper()} = {optimizer.params[name]!r}" for name in names)


def _optimizer_summary(optimizer: Choice) -> str:
    params = ", ".join(f"{name} {value!r}" for name, value in optimizer.params.items())
    return f"{optimizer.kind} ({params})"


def _shape_list(shape: tuple) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _initial_value(variable: Variable) -> Fragment:
    entry = _entry(catalogue.INITIALIZERS, variable.initializer)
    data = {
        "p": variable.initializer.params,
        "shape": _shape_list(variable.shape),
        "dtype": f"tf.{variable.dtype}",
        **entry.hook("data", lambda v: {})(variable),
    }
    return Fragment(entry.template, data)


def _variable_doc(variable: Variable) -> str:
    role = "trainable" if variable.trainable else "non-trainable"
    shape = "[" + ", ".join(str(d) for d in variable.shape) + "]"
    return f"{variable.name}: {variable.dtype} {shape}, {role}, {variable.initializer.kind}"


def _variable(variable: Variable) -> Fragment:
    data = {
        "name": variable.name,
        "trainable": variable.trainable,
        "initial": _initial_value(variable),
    }
    return Fragment("parts/variable.py.jinja", data)


def _accumulators(metric: Metric) -> tuple[str, ...]:
    """The metric's accumulator attributes: a counter's, or a mean's total and count."""
    return metric_attributes(metric.name, metric.kind in COUNTER_METRICS)


def _metric_variables(metrics: tuple[Metric, ...]) -> list[str]:
    return [f"self.{attr}" for metric in metrics for attr in _accumulators(metric)]


def _metric_init(metric: Metric) -> tuple[str, ...]:
    dtype = "tf.int64" if metric.kind in COUNTER_METRICS else "tf.float32"
    out: list[str] = []
    for attr in _accumulators(metric):
        call = Call(
            "tf.Variable",
            (
                Call("tf.zeros", ("[]", Keyword("dtype", dtype))),
                Keyword("name", string(attr[1:])),
                Keyword("trainable", "False"),
            ),
        )
        out.extend(lines(call, f"self.{attr} = ", indent=2))
    return tuple(out)


def _collection(variables: list[Variable]) -> tuple[str, ...]:
    return _collection_of(tuple(f"self.{v.name}" for v in variables))


def _keras_collection(kind: str) -> tuple[str, ...]:
    return (f"{_PAD}return list(self._keras_model.{kind}_variables)",)


def _collection_of(items: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(lines(Call("", items, "[", "]"), "return ", indent=2))


_PAD = "        "


def _predict_input(spec: Spec) -> tuple[str, ...]:
    if len(spec.features) > 1 and isinstance(spec.forward, LayerStack):
        return (f"{_PAD}x = x[{string(spec.forward.input)}]",)
    return ()


class _Layers:
    """The fragments of a layer stack, each layer fed the flow it receives.

    Layers with sub-stacks (a residual block) plan them through `stack`, with
    fresh tensor names from `name`.
    """

    def __init__(self, spec: Spec) -> None:
        stack = spec.forward
        assert isinstance(stack, LayerStack)
        self.variables = {v.name: v for v in spec.variables}
        self.helpers: list[str] = []
        self.names: set[str] = set()
        source = next(i for i in spec.inputs if i.name == stack.input)
        self.fragments, _ = self.stack(
            stack.layers, "x", Flow(source.shape, source.dtype), "forward.layers"
        )

    def name(self, stem: str) -> str:
        """A tensor name not used before in this forward pass."""
        count = 1
        while f"{stem}_{count}" in self.names:
            count += 1
        self.names.add(f"{stem}_{count}")
        return f"{stem}_{count}"

    def stack(
        self, layers: tuple[Choice, ...], x: str, flow: Flow, field: str
    ) -> tuple[tuple[Fragment, ...], Flow]:
        fragments = []
        for index, layer in enumerate(layers):
            where = f"{field}[{index}]"
            entry = catalogue.LAYERS[layer.kind]
            data = {"x": x, "p": layer.params, "mask": "mask"}
            context = LayerContext(self, x, where)
            data.update(entry.hook("data", _no_data)(layer.params, flow, context))
            for helper in entry.hook("helpers", _no_helpers)(layer.params):
                if helper not in self.helpers:
                    self.helpers.append(helper)
            body = Fragment(entry.template, data)
            fragments.append(
                Fragment(
                    "parts/layer.py.jinja",
                    {"field": where, "kind": layer.kind, "body": body},
                )
            )
            flow = apply(layer.kind, flow, layer.params, self.variables, where)
        return tuple(fragments), flow


@dataclass(frozen=True)
class LayerContext:
    """What a layer's `data` function may ask of the planner: its tensor's name
    `x`, its spec `field`, fresh names and the plans of sub-stacks."""

    planner: _Layers
    x: str
    field: str

    def name(self, stem: str) -> str:
        return self.planner.name(stem)

    def stack(
        self, layers: tuple[Choice, ...], x: str, flow: Flow, field: str
    ) -> tuple[tuple[Fragment, ...], Flow]:
        return self.planner.stack(layers, x, flow, field)


def _no_data(*args: object) -> dict:
    return {}


def _no_helpers(params: object) -> tuple[str, ...]:
    return ()


def _helpers(spec: Spec, layers: _Layers | None) -> tuple[str, ...]:
    """Module-level helper templates the entries in use need, in first-use order."""
    out = list(layers.helpers) if layers else []
    for variable in spec.variables:
        entry = _entry(catalogue.INITIALIZERS, variable.initializer)
        for helper in entry.hook("helpers", _no_helpers)(variable.initializer.params):
            if helper not in out:
                out.append(helper)
    return tuple(out)


def _regularization(spec: Spec) -> tuple[str, ...]:
    """`regularization = ...`: the loss's l2 over all trainable variables, and
    each variable's own l2 (a Keras `kernel_regularizer`), as Keras adds them."""
    out = []
    terms: list[str | Call] = []
    if _l2(spec.loss):
        out.append(
            f"{_PAD}squares = [tf.reduce_sum(tf.square(v)) for v in self.trainable_variables]"
        )
        terms.append(f"{_l2(spec.loss)!r} * tf.add_n(squares)")
    for variable in spec.variables:
        if variable.l2:
            square = Call(
                "tf.reduce_sum", (Call("tf.square", (f"self.{variable.name}",)),)
            )
            terms.append(Call("tf.math.multiply", (repr(variable.l2), square)))
    if len(terms) == 1:
        out.extend(lines(terms[0], "regularization = ", indent=2))
    elif terms:
        total = Call("tf.add_n", (Call("", tuple(terms), "[", "]"),))
        out.extend(lines(total, "regularization = ", indent=2))
    return tuple(out)


def _l2(loss: Choice) -> float:
    return float(loss.params["l2"])  # type: ignore[arg-type]


def _batch_loss(spec: Spec) -> str:
    """The loss training minimises: the data loss plus regularization.

    As in TFF's `from_keras_model` (and Keras' own train step), a Keras
    model's own losses (its layers' regularizers) are added; the `loss`
    metric reports the data loss alone, as `from_keras_model`'s does.
    """
    if isinstance(spec.forward, KerasBuilder):
        return "tf.add_n([loss, *self._keras_model.losses])"
    regularized = _l2(spec.loss) or any(v.l2 for v in spec.variables)
    return "loss + regularization" if regularized else "loss"


def _metric_update(metric: Metric, spec: Spec) -> Fragment:
    entry = catalogue.METRICS[metric.kind]
    attrs = tuple(f"self.{attr}" for attr in _accumulators(metric))
    names = (
        {"count": attrs[0]} if len(attrs) == 1 else dict(zip(("total", "count"), attrs))
    )
    data = {**names, **entry.hook("data", lambda m, s: {})(metric, spec)}
    return Fragment(entry.template, data)


def _unfinalized(metric: Metric) -> str | Call:
    reads = tuple(f"self.{attr}.read_value()" for attr in _accumulators(metric))
    if metric.kind in COUNTER_METRICS:
        return reads[0]
    return Call("", reads, "[", "]")


def _finalizer(metric: Metric) -> str:
    return "_finalize_count" if metric.kind in COUNTER_METRICS else "_finalize_mean"


def _weight(spec: Spec) -> str | None:
    """The metric that weights example-weighted means: the first num_examples summed."""
    return next(
        (
            m.name
            for m in spec.metrics
            if m.kind == "num_examples" and m.aggregation == "sum"
        ),
        None,
    )


def _classic_aggregation(metric: Metric, weight: str | None) -> Call:
    value = f"local_outputs.{metric.name}"
    if metric.aggregation == "mean":
        return Call(
            "tff.federated_mean", (value, Keyword("weight", f"local_outputs.{weight}"))
        )
    return Call(f"tff.federated_{metric.aggregation}", (value,))


def _modern_sources(metrics: tuple[Metric, ...]) -> tuple[str, ...]:
    """The summed and the locally finalized metrics, each only when a metric uses it."""
    out = []
    if any(m.aggregation in ("sum", "mean") for m in metrics):
        out.append(
            f"{_PAD}summed = tff.federated_map(finalize, tff.federated_sum(client_metrics))"
        )
    if any(m.aggregation in ("max", "min") for m in metrics):
        out.append(f"{_PAD}local = tff.federated_map(finalize, client_metrics)")
    return tuple(out)


def _modern_aggregation(metric: Metric) -> str | Call:
    if metric.aggregation in ("sum", "mean"):
        return f"summed.{metric.name}"
    return Call(f"tff.federated_{metric.aggregation}", (f"local.{metric.name}",))


def _batch_keys(spec: Spec) -> tuple[str, ...]:
    features = spec.features
    carried = (
        string(features[0].name)
        if len(features) == 1
        else Call("", tuple(string(f.name) for f in features), "(", ")")
    )
    return _ordered_dict("BATCH_KEYS = ", [("x", carried), ("y", string(spec.label))])


_FLOAT = "tf.float32.as_numpy_dtype"
_INT = "tf.int64.as_numpy_dtype"


def _unfinalized_type(metric: Metric) -> str | Call:
    if metric.kind in COUNTER_METRICS:
        return _INT
    return Call("", (_FLOAT, _FLOAT), "[", "]")


def _initial_total(metric: Metric) -> Call:
    """Totals over rounds start at the identity of their aggregation."""
    counter = metric.kind in COUNTER_METRICS
    if metric.aggregation in ("sum", "mean"):
        if counter:
            return Call("tf.zeros", ("[]", "tf.int64"))
        return Call("", ("tf.zeros([])", "tf.zeros([])"), "[", "]")
    if counter:
        extreme = "tf.int64.min" if metric.aggregation == "max" else "tf.int64.max"
        return Call("tf.constant", (extreme,))
    sign = "-" if metric.aggregation == "max" else ""
    return Call("tf.constant", (Call("float", (f'"{sign}inf"',)),))


def _accumulated_total(metric: Metric) -> str | Call:
    totals, summed = subscript("totals", metric.name), subscript("summed", metric.name)
    if metric.aggregation in ("sum", "mean") and metric.kind in COUNTER_METRICS:
        text = f"{flat(totals)} + {flat(summed)}"
        if len(f"{_PAD}        {metric.name}={text},") <= LINE_LENGTH:
            return text
        return Call("tf.math.add", (totals, summed))  # splits where `+` could not
    if metric.aggregation in ("sum", "mean"):
        return Call("tf.nest.map_structure", ("tf.add", totals, summed))
    op = "tf.maximum" if metric.aggregation == "max" else "tf.minimum"
    return Call(op, (totals, subscript("current", metric.name)))


def _finalized_total(metric: Metric) -> str | Call:
    item = subscript("totals", metric.name)
    if metric.aggregation in ("sum", "mean"):
        return Call(_finalizer(metric), (item,))
    return item
