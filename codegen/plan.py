"""Stage 3, plan: a `Spec` -> a `Plan` of precomputed source lines the templates place.

Every decision about the generated code is made here, in Python; the
templates contain no logic beyond placing these strings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from codegen import __version__
from codegen.catalogue import COUNTER_METRICS
from codegen.header import format_header
from codegen.names import metric_attributes
from codegen.pyfmt import Call, Keyword, escape, lines, string
from codegen.spec import Choice, Input, KerasBuilder, LayerStack, Metric, Spec, Variable

_GLOROT_NORMAL_STDDEV_CORRECTION = 0.87962566103423978
"""Stddev of a unit normal truncated at two standard deviations (as Keras uses)."""


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
    optimizer_constants: tuple[str, ...]
    client_optimizer: tuple[str, ...]
    optimizer_summary: str
    variable_docs: tuple[str, ...]
    variable_init: tuple[str, ...]
    metric_init: tuple[str, ...]
    trainable: tuple[str, ...]
    non_trainable: tuple[str, ...]
    local: tuple[str, ...]
    predict: tuple[str, ...]
    loss: tuple[str, ...]
    metric_updates: tuple[str, ...]
    unfinalized: tuple[str, ...]
    finalizers: tuple[str, ...]
    classic_aggregation: tuple[str, ...]
    modern_aggregation: tuple[str, ...]
    batch_keys: tuple[str, ...]
    batch_loss: str
    seeded_dropout: bool
    unfinalized_type: tuple[str, ...]
    initial_totals: tuple[str, ...]
    accumulated_totals: tuple[str, ...]
    finalized_totals: tuple[str, ...]


def plan(spec: Spec, spec_ref: str, output_ref: str, sha256: str) -> Plan:
    """Decide the text of every variable part of the module for `spec`."""
    keras = isinstance(spec.forward, KerasBuilder)
    header = format_header(__version__, spec_ref, sha256)
    weight = _weight(spec)
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
        optimizer_template=f"optimizers/{_optimizer_kind(spec.optimizer)}.jinja",
        optimizer_constants=_optimizer_constants(spec.optimizer),
        client_optimizer=_client_optimizer(spec.optimizer),
        optimizer_summary=_optimizer_summary(spec.optimizer),
        variable_docs=tuple(_variable_doc(v) for v in spec.variables),
        variable_init=tuple(line for v in spec.variables for line in _variable_init(v)),
        metric_init=tuple(line for m in spec.metrics for line in _metric_init(m)),
        trainable=_keras_collection("trainable")
        if keras
        else _collection([v for v in spec.variables if v.trainable]),
        non_trainable=_keras_collection("non_trainable")
        if keras
        else _collection([v for v in spec.variables if not v.trainable]),
        local=_collection_of(
            tuple(_metric_variables(spec.metrics))
            + _SLOTS[_optimizer_kind(spec.optimizer)]
        ),
        predict=_predict(spec.forward, spec)
        if isinstance(spec.forward, LayerStack)
        else (),
        loss=_loss(spec.loss),
        metric_updates=tuple(
            line for m in spec.metrics for line in _metric_update(m, spec)
        ),
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
        seeded_dropout=_seeded_dropout(spec),
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


_SLOTS = {
    "sgd": (),
    "momentum": ("*self._optimizer_velocity",),
    "adam": ("self._optimizer_step", "*self._optimizer_m", "*self._optimizer_v"),
}
"""Optimizer slot variables (created by the optimizer template) listed as local variables."""


def _optimizer_kind(optimizer: Choice) -> str:
    if optimizer.kind == "sgd" and float(optimizer.params["momentum"]) > 0:  # type: ignore[arg-type]
        return "momentum"
    return optimizer.kind


def _optimizer_constants(optimizer: Choice) -> tuple[str, ...]:
    names = {"sgd": ("learning_rate",), "momentum": ("learning_rate", "momentum")}
    names["adam"] = ("learning_rate", "beta_1", "beta_2", "epsilon")
    return tuple(
        f"{name.upper()} = {optimizer.params[name]!r}"
        for name in names[_optimizer_kind(optimizer)]
    )


def _client_optimizer(optimizer: Choice) -> tuple[str, ...]:
    kind = _optimizer_kind(optimizer)
    if kind == "adam":
        args = tuple(
            Keyword(n, n.upper())
            for n in ("learning_rate", "beta_1", "beta_2", "epsilon")
        )
        call = Call("tff.learning.optimizers.build_adam", args)
    else:
        names = (
            ("learning_rate", "momentum") if kind == "momentum" else ("learning_rate",)
        )
        call = Call(
            "tff.learning.optimizers.build_sgdm",
            tuple(Keyword(n, n.upper()) for n in names),
        )
    return tuple(lines(call, "return ", indent=1))


def _optimizer_summary(optimizer: Choice) -> str:
    params = ", ".join(f"{name} {value!r}" for name, value in optimizer.params.items())
    return f"{optimizer.kind} ({params})"


def _shape_list(shape: tuple) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _fans(shape: tuple) -> tuple[int, int]:
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def _initial_value(variable: Variable) -> Call:
    init, shape, dtype = (
        variable.initializer,
        _shape_list(variable.shape),
        f"tf.{variable.dtype}",
    )
    params = init.params
    if init.kind in ("zeros", "ones"):
        return Call(f"tf.{init.kind}", (shape, Keyword("dtype", dtype)))
    if init.kind == "constant":
        value = params["value"]
        if variable.dtype.startswith("int") or variable.dtype == "bool":
            value = int(value) if variable.dtype != "bool" else bool(value)  # type: ignore[arg-type]
        return Call(
            "tf.constant",
            (repr(value), Keyword("shape", shape), Keyword("dtype", dtype)),
        )
    fan_in, fan_out = _fans(variable.shape)
    seed = Keyword("seed", f"[{params['seed']}, 0]")
    if init.kind == "glorot_uniform":
        limit = repr(math.sqrt(6.0 / (fan_in + fan_out)))
        return Call(
            "tf.random.stateless_uniform",
            (
                shape,
                seed,
                Keyword("minval", f"-{limit}"),
                Keyword("maxval", limit),
                Keyword("dtype", dtype),
            ),
        )
    if init.kind == "glorot_normal":
        mean, stddev = (
            0.0,
            math.sqrt(2.0 / (fan_in + fan_out)) / _GLOROT_NORMAL_STDDEV_CORRECTION,
        )
    else:
        mean, stddev = float(params["mean"]), float(params["stddev"])  # type: ignore[arg-type]
    return Call(
        "tf.random.stateless_truncated_normal",
        (
            shape,
            seed,
            Keyword("mean", repr(mean)),
            Keyword("stddev", repr(stddev)),
            Keyword("dtype", dtype),
        ),
    )


def _variable_doc(variable: Variable) -> str:
    role = "trainable" if variable.trainable else "non-trainable"
    shape = "[" + ", ".join(str(d) for d in variable.shape) + "]"
    return f"{variable.name}: {variable.dtype} {shape}, {role}, {variable.initializer.kind}"


def _variable_init(variable: Variable) -> tuple[str, ...]:
    call = Call(
        "tf.Variable",
        (
            _initial_value(variable),
            Keyword("name", string(variable.name)),
            Keyword("trainable", str(variable.trainable)),
        ),
    )
    return tuple(lines(call, f"self.{variable.name} = ", indent=2))


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


def _x(func: str, *args: str | Call | Keyword) -> list[str]:
    return lines(Call(func, args), "x = ", indent=2)


def _layer_lines(layer: Choice) -> list[str]:
    p = layer.params
    bias = _x("tf.nn.bias_add", "x", f"self.{p['bias']}") if p.get("bias") else []
    if layer.kind == "dense":
        return _x("tf.matmul", "x", f"self.{p['kernel']}") + bias
    if layer.kind == "conv2d":
        padding = Keyword("padding", string(str(p["padding"])))
        conv = _x(
            "tf.nn.conv2d",
            "x",
            f"self.{p['filters']}",
            Keyword("strides", str(p["strides"])),
            padding,
        )
        return conv + bias
    if layer.kind == "max_pool2d":
        strides = Keyword("strides", str(p["strides"] or p["size"]))
        padding = Keyword("padding", string(str(p["padding"])))
        return _x(
            "tf.nn.max_pool2d", "x", Keyword("ksize", str(p["size"])), strides, padding
        )
    if layer.kind == "flatten":
        return _x("tf.reshape", "x", "[tf.shape(x)[0], -1]")
    if layer.kind == "reshape":
        return _x(
            "tf.reshape", "x", "[-1, " + ", ".join(str(d) for d in p["shape"]) + "]"
        )  # type: ignore[union-attr]
    if layer.kind in ("relu", "softmax"):
        return _x(f"tf.nn.{layer.kind}", "x")
    if layer.kind in ("sigmoid", "tanh"):
        return _x(f"tf.math.{layer.kind}", "x")
    if layer.kind == "dropout":
        return [_PAD + "if training:", *lines(_dropout(p), "x = ", indent=3)]
    if layer.kind == "embedding":
        return _x("tf.nn.embedding_lookup", f"self.{p['table']}", "x")
    if layer.kind == "normalize":
        return _x("tf.math.subtract", "x", f"self.{p['mean']}") + _x(
            "tf.math.divide", "x", f"self.{p['std']}"
        )
    return _x("tf.reduce_mean", "x", Keyword("axis", str(p["axis"])))


def _dropout(params: dict) -> Call:
    """Unseeded: Keras' stateful dropout. Seeded: a stateless mask keyed on the input."""
    rate = Keyword("rate", repr(params["rate"]))
    if params["seed"] is None:
        return Call("tf.nn.dropout", ("x", rate))
    seed = Keyword("seed", f"_dropout_seed({params['seed']}, x)")
    return Call("tf.nn.experimental.stateless_dropout", ("x", rate, seed))


def _seeded_dropout(spec: Spec) -> bool:
    return isinstance(spec.forward, LayerStack) and any(
        layer.kind == "dropout" and layer.params["seed"] is not None
        for layer in spec.forward.layers
    )


_PAD = "        "


def _predict(stack: LayerStack, spec: Spec) -> tuple[str, ...]:
    out: list[str] = []
    if len(spec.features) > 1:
        out.append(f"{_PAD}x = x[{string(stack.input)}]")
    for index, layer in enumerate(stack.layers):
        out.append(f"{_PAD}# forward.layers[{index}]: {layer.kind}")
        out.extend(_layer_lines(layer))
    return tuple(out)


def _loss(loss: Choice) -> tuple[str, ...]:
    if loss.kind == "mean_squared_error":
        error = Call("tf.math.subtract", ("predictions", _label_as_predictions()))
        out = lines(
            Call("tf.reduce_mean", (Call("tf.square", (error,)),)), "loss = ", indent=2
        )
    else:
        call = Call(
            f"tf.keras.losses.{loss.kind}",
            (
                "label",
                "predictions",
                Keyword("from_logits", str(loss.params["from_logits"])),
            ),
        )
        out = lines(Call("tf.reduce_mean", (call,)), "loss = ", indent=2)
    if _l2(loss):
        out.append(
            f"{_PAD}squares = [tf.reduce_sum(tf.square(v)) for v in self.trainable_variables]"
        )
        out.append(f"{_PAD}regularization = {_l2(loss)!r} * tf.add_n(squares)")
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
    return "loss + regularization" if _l2(spec.loss) else "loss"


def _label_as_predictions() -> Call:
    return Call("tf.cast", ("label", "predictions.dtype"))


def _hits(metric: Metric, spec: Spec) -> Call:
    """Per-example values whose sum is the metric's total."""
    if metric.kind == "sparse_categorical_accuracy":
        top = Call(
            "tf.argmax",
            (
                "predictions",
                Keyword("axis", "-1"),
                Keyword("output_type", "label.dtype"),
            ),
        )
        equal = Call("tf.equal", (top, Call("tf.reshape", ("label", "[-1]"))))
        return Call("tf.cast", (equal, "tf.float32"))
    if metric.kind == "binary_accuracy":
        threshold = "0.0" if spec.loss.params.get("from_logits") else "0.5"
        predicted = Call("tf.cast", (f"predictions > {threshold}", "label.dtype"))
        equal = Call("tf.cast", (Call("tf.equal", (predicted, "label")), "tf.float32"))
        return _per_example_mean(equal)
    error = Call("tf.math.subtract", ("predictions", _label_as_predictions()))
    op = "tf.square" if metric.kind == "mean_squared_error" else "tf.abs"
    return _per_example_mean(Call(op, (error,)))


def _per_example_mean(values: Call) -> Call:
    return Call(
        "tf.reduce_mean",
        (
            Call("tf.reshape", (values, "[tf.shape(label)[0], -1]")),
            Keyword("axis", "1"),
        ),
    )


def _metric_update(metric: Metric, spec: Spec) -> tuple[str, ...]:
    if metric.kind == "num_examples":
        (count,) = _accumulators(metric)
        return (f"{_PAD}self.{count}.assign_add(tf.cast(num_examples, tf.int64))",)
    if metric.kind == "num_batches":
        (count,) = _accumulators(metric)
        return (f"{_PAD}self.{count}.assign_add(1)",)
    total_attr, count_attr = _accumulators(metric)
    if metric.kind == "loss":
        total: Call = Call(
            "tf.cast", ("loss * tf.cast(num_examples, loss.dtype)", "tf.float32")
        )
    else:
        total = Call("tf.reduce_sum", (_hits(metric, spec),))
    return (
        *lines(Call(f"self.{total_attr}.assign_add", (total,)), indent=2),
        *lines(
            Call(
                f"self.{count_attr}.assign_add",
                ("tf.cast(num_examples, tf.float32)",),
            ),
            indent=2,
        ),
    )


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


def _initial_total(metric: Metric) -> str:
    """Totals over rounds start at the identity of their aggregation."""
    counter = metric.kind in COUNTER_METRICS
    if metric.aggregation in ("sum", "mean"):
        return "tf.zeros([], tf.int64)" if counter else "[tf.zeros([]), tf.zeros([])]"
    if counter:
        return (
            "tf.constant(tf.int64.min)"
            if metric.aggregation == "max"
            else "tf.constant(tf.int64.max)"
        )
    sign = "-" if metric.aggregation == "max" else ""
    return f'tf.constant(float("{sign}inf"))'


def _accumulated_total(metric: Metric) -> Call:
    item = f"[{string(metric.name)}]"
    if metric.aggregation in ("sum", "mean") and metric.kind in COUNTER_METRICS:
        return f"totals{item} + summed{item}"
    if metric.aggregation in ("sum", "mean"):
        return Call(
            "tf.nest.map_structure", ("tf.add", f"totals{item}", f"summed{item}")
        )
    op = "tf.maximum" if metric.aggregation == "max" else "tf.minimum"
    return Call(op, (f"totals{item}", f"current{item}"))


def _finalized_total(metric: Metric) -> str | Call:
    item = f"totals[{string(metric.name)}]"
    if metric.aggregation in ("sum", "mean"):
        return Call(_finalizer(metric), (item,))
    return item
