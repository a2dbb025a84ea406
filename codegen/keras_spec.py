"""Read a Keras builder's model (this imports TensorFlow) into the values of a starter spec.

The label, loss and metrics are guessed from the model's output: the activation
it comes from (softmax, sigmoid, none) and its shape (one row of scores per
example, or one per position, e.g. [null, steps, classes] for a sequence). A
dimension beyond the batch that the Keras model leaves open (None) is written
as `OPEN_DIM` with a TODO, since the spec format needs it known.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass

from codegen import catalogue
from codegen.errors import UsageError
from codegen.names import DOTTED_MODULE, SNAKE_NAME, name_problem
from codegen.tflog import quiet_tensorflow

quiet_tensorflow()

OPEN_DIM = 1
"""What a dimension the Keras model leaves open (None) is written as; a TODO asks for it."""

Dims = tuple  # of int | None, batch dimension first


@dataclass(frozen=True)
class Task:
    """What the model's output suggests it learns: the label, loss and metrics to write."""

    loss: str
    reason: str
    label_dtype: str
    label_dims: Dims
    label_note: str
    metric_lines: tuple[str, ...]


def describe_builder(builder: str) -> dict:
    """Template values for `init/from_keras.yaml.jinja` from the model `builder` returns."""
    model = _build(builder)
    features = _features(builder, model)
    label = "y" if "y" not in {name for name, _, _ in features} else "label"
    task = guess_task(model)
    variables = model.variables
    trainable = len(model.trainable_variables)
    summary = (
        f"{len(features)} input(s), {len(variables)} variables ({trainable} trainable), "
        f"output {_shape(model.outputs[0].shape)}"
    )
    lines = [_input_line(name, dtype, dims, "") for name, dtype, dims in features]
    lines.append(_input_line(label, task.label_dtype, task.label_dims, task.label_note))
    open_dims = any(None in dims[1:] for _, _, dims in features) or (
        None in task.label_dims[1:]
    )
    return {
        "builder": builder,
        "description": f"The Keras model that {builder} builds, as a TFF model.",
        "summary": summary,
        "todo_lines": [
            "TODO: the Keras model leaves some dimensions open (None); the spec needs "
            f"them known, so they are written as {OPEN_DIM}: set each to your data's size."
        ]
        if open_dims
        else [],
        "input_lines": lines,
        "label": label,
        "loss": task.loss,
        "loss_reason": task.reason,
        "metric_lines": [
            "loss: loss",
            *task.metric_lines,
            "num_examples: num_examples",
        ],
    }


def _build(builder: str):
    """Import `builder` (module:function) and return the tf.keras.Model it builds."""
    module_name, _, function_name = builder.partition(":")
    if not DOTTED_MODULE.match(module_name) or not function_name.isidentifier():
        raise UsageError(f"--from-keras: expected module:function, found {builder!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"--from-keras {builder}: cannot import it: {exc}") from None
    import tensorflow as tf

    try:
        model = function()
    except Exception as exc:  # noqa: BLE001 - the user's builder failed; say so
        raise UsageError(
            f"--from-keras {builder}: the builder raised {exc!r}"
        ) from None
    if not isinstance(model, tf.keras.Model):
        raise UsageError(
            f"--from-keras {builder}: expected a tf.keras.Model, found {type(model).__name__}"
        )
    if not model.inputs or len(model.outputs) != 1:
        raise UsageError(
            f"--from-keras {builder}: expected a functional or Sequential model with known "
            "inputs and one output"
        )
    if any(tensor.shape.rank is None for tensor in [*model.inputs, *model.outputs]):
        raise UsageError(
            f"--from-keras {builder}: expected inputs and an output of known rank"
        )
    return model


def _features(builder: str, model) -> list[tuple[str, str, Dims]]:
    """(name, dtype, dims) of each Keras input; dims may hold None beyond the batch."""
    names = list(getattr(model, "input_names", None) or [])
    features = []
    for index, tensor in enumerate(model.inputs):
        name = names[index] if index < len(names) else f"x{index}"
        if name_problem(name, SNAKE_NAME, "a snake_case name"):
            if len(model.inputs) > 1:
                raise UsageError(
                    f"--from-keras {builder}: input {name!r} needs a snake_case name that is "
                    "not a Python keyword or builtin (name your tf.keras.Input)"
                )
            name = "x"
        dtype = tensor.dtype.name
        if dtype not in catalogue.DTYPES:
            raise UsageError(
                f"--from-keras {builder}: input {name!r} has dtype {dtype}"
            )
        features.append((name, dtype, tuple(tensor.shape)))
    return features


def guess_task(model) -> Task:
    """The label, loss and metrics that the model's output suggests."""
    dims = tuple(model.outputs[0].shape)
    activation = output_activation(model)
    width = dims[-1] if len(dims) > 1 else None
    if len(dims) > 1 and activation == "softmax":
        return _classes(dims, "the model ends in a softmax", from_logits=False)
    if activation in ("linear", "") and width is not None and width > 1:
        reason = "the model outputs several unnormalised scores (logits)"
        return _classes(dims, reason, from_logits=True)
    if activation == "sigmoid":
        return _binary(dims)
    return Task(
        "mean_squared_error",
        "the output looks like a regression",
        "float32",
        dims,
        "targets",
        ("mse: mean_squared_error",),
    )


def _classes(dims: Dims, reason: str, from_logits: bool) -> Task:
    """Sparse categorical cross-entropy on class ids: one per example, or one per position."""
    loss = "sparse_categorical_crossentropy"
    if from_logits:
        loss = f"{{{loss}: {{from_logits: true}}}}"
    positions = dims[1:-1]
    accuracy = ("accuracy: sparse_categorical_accuracy",)
    if not positions:
        return Task(loss, reason, "int32", (None, 1), "class ids", accuracy)
    return Task(
        loss,
        f"{reason} over the last axis: one class per position",
        "int32",
        (None, *positions),
        "class ids, one per position",
        (
            "num_tokens: num_tokens   # TODO: masked_ids (padding) if your sequences are padded",
            "accuracy: sparse_categorical_accuracy   # TODO: masked_ids, as for num_tokens",
        ),
    )


def _binary(dims: Dims) -> Task:
    """Binary cross-entropy on 0/1 labels, one per sigmoid output."""
    width = dims[-1] if len(dims) > 1 else 1
    if width == 1:
        reason, note = "the model ends in one sigmoid", "0/1 labels"
    else:
        count = "open (None)" if width is None else str(width)
        reason = f"the model ends in {count} sigmoids: independent 0/1 labels"
        note = "0/1 labels, one per output"
    return Task(
        "binary_crossentropy",
        reason,
        "float32",
        dims,
        note,
        ("accuracy: binary_accuracy",),
    )


def output_activation(model) -> str:
    """The activation the model's output comes from: softmax, sigmoid, linear, another
    activation's name, or "" when unknown.

    Looks into nested models and TimeDistributed, and back through layers that
    keep the meaning of their input (dropout, flatten, reshape).
    """
    import tensorflow as tf

    layers = tf.keras.layers
    layer = _output_layer(model)
    for _ in range(100):  # a model is finite; this only bounds a malformed graph
        if isinstance(layer, tf.keras.Model):
            layer = _output_layer(layer)
        elif isinstance(layer, layers.TimeDistributed):
            layer = layer.layer
        elif isinstance(layer, (layers.Dropout, layers.Flatten, layers.Reshape)):
            layer = _single_input_layer(layer)
        elif isinstance(layer, layers.Softmax):
            return "softmax" if layer.axis in (-1, [-1], (-1,)) else ""
        elif isinstance(layer, layers.Lambda):
            return activation_name(layer.function)
        else:
            return activation_name(getattr(layer, "activation", None))
    return ""


def activation_name(function) -> str:
    """The Keras name of an activation function, however it was referred to:
    `tf.nn.softmax` (named softmax_v2) and `tf.keras.activations.softmax` are softmax."""
    if function is None:
        return ""
    import tensorflow as tf

    for name in ("softmax", "sigmoid", "linear"):
        known = (
            getattr(module, name, None) for module in (tf.keras.activations, tf.nn)
        )
        if any(function is same for same in known):
            return name
    return str(getattr(function, "__name__", "")).removesuffix("_v2")


def _output_layer(model):
    """The layer that makes `model`'s (only) output, or None."""
    names = list(getattr(model, "output_names", None) or [])
    try:
        return model.get_layer(names[0])
    except (IndexError, ValueError):
        return model.layers[-1] if model.layers else None


def _single_input_layer(layer):
    """The one layer whose output `layer` consumes, or None."""
    nodes = list(getattr(layer, "inbound_nodes", None) or [])
    if len(nodes) != 1:
        return None
    inbound = nodes[0].inbound_layers
    if isinstance(inbound, (list, tuple)):
        return inbound[0] if len(inbound) == 1 else None
    return inbound


def _input_line(name: str, dtype: str, dims: Dims, note: str) -> str:
    """One entry under `inputs:`, with a TODO for the note and for open dimensions."""
    written = [OPEN_DIM if dim is None else dim for dim in dims[1:]]
    line = f"{name}: {{dtype: {dtype}, shape: {_shape((None, *written))}}}"
    todos = [note] if note else []
    open_axes = [str(axis) for axis, dim in enumerate(dims) if axis and dim is None]
    if open_axes:
        which = "dimension" if len(open_axes) == 1 else "dimensions"
        todos.append(
            f"{which} {', '.join(open_axes)} open (None) in Keras: set your data's size"
        )
    return f"{line}   # TODO: {'; '.join(todos)}" if todos else line


def _shape(shape) -> str:
    dims = ["null" if d is None else str(d) for d in list(shape)]
    return f"[{', '.join(dims)}]"


def describe_layers(builder: str) -> dict:
    """Template values for `init/from_keras_layers.yaml.jinja`: the model as a layer spec."""
    from codegen.keras_layers import read_layers

    model = _build(builder)
    features = _features(builder, model)
    items, variables = read_layers(model, builder)
    (name, dtype, dims), note = features[0], ""
    first = items[0] if items else None
    if (
        isinstance(first, dict)
        and "embedding" in first
        and dtype not in ("int32", "int64")
    ):
        dtype, note = (
            "int64",
            "token ids (the Keras input is float; Embedding casts it)",
        )
    label = "y" if name != "y" else "label"
    task = guess_task(model)
    trainable = sum(1 for v in variables if v["trainable"])
    return {
        "builder": builder,
        "description": f"The Keras model that {builder} builds, as checked layers.",
        "summary": f"{len(items)} layers, {len(variables)} variables ({trainable} trainable) "
        f"in the order of the Keras model's weights, output {_shape(model.outputs[0].shape)}",
        "todo_lines": [
            "TODO: the Keras model leaves some dimensions open (None); the spec needs "
            f"them known, so they are written as {OPEN_DIM}: set each to your data's size."
        ]
        if None in dims[1:] or None in task.label_dims[1:]
        else [],
        "input_lines": [
            _input_line(name, dtype, dims, note),
            _input_line(label, task.label_dtype, task.label_dims, task.label_note),
        ],
        "label": label,
        "variable_lines": [_variable_line(v) for v in variables],
        "layer_lines": _layer_lines(items, 2),
        "loss": task.loss,
        "loss_reason": task.reason,
        "metric_lines": [
            "loss: loss",
            *task.metric_lines,
            "num_examples: num_examples",
        ],
    }


def _variable_line(variable: dict) -> str:
    fields = [f"shape: {_shape(variable['shape'])}"]
    if variable["dtype"] != "float32":
        fields.append(f"dtype: {variable['dtype']}")
    fields.append(f"initializer: {variable['initializer']}")
    if not variable["trainable"]:
        fields.append("trainable: false")
    if variable["l2"]:
        fields.append(f"l2: {variable['l2']!r}")
    return f"{variable['name']}: {{{', '.join(fields)}}}"


def _flow(value) -> str:
    """`value` in YAML flow style."""
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{key}: {_flow(item)}" for key, item in value.items())
            + "}"
        )
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _layer_lines(items: list, indent: int) -> list[str]:
    """Spec lines of layer `items`; a residual block's sub-stacks in block style."""
    pad = " " * indent
    out = []
    for item in items:
        if isinstance(item, dict) and "residual" in item:
            block = item["residual"]
            out.append(f"{pad}- residual:")
            for part in ("layers", "shortcut"):
                if part in block:
                    out.append(f"{pad}    {part}:")
                    out.extend(_layer_lines(block[part], indent + 6))
        elif isinstance(item, dict) and len(item) == 1:
            ((kind, params),) = item.items()
            out.append(f"{pad}- {kind}: {_flow(params)}")
        else:
            out.append(f"{pad}- {_flow(item)}")
    return out
