"""Read a Keras builder's model (this imports TensorFlow) into the values of a starter spec."""

from __future__ import annotations

import importlib
import os
import sys

from codegen import catalogue
from codegen.errors import UsageError
from codegen.names import DOTTED_MODULE, SNAKE_NAME, name_problem

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def describe_builder(builder: str) -> dict:
    """Template values for `init/from_keras.yaml.jinja` from the model `builder` returns."""
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
    features = _features(builder, model)
    label, loss, reason, metrics = _guess_task(model, {name for name, _, _ in features})
    variables = model.variables
    trainable = len(model.trainable_variables)
    summary = (
        f"{len(features)} input(s), {len(variables)} variables ({trainable} trainable), "
        f"output {_shape(model.outputs[0].shape)}"
    )
    return {
        "builder": builder,
        "description": f"The Keras model that {builder} builds, as a TFF model.",
        "summary": summary,
        "input_lines": [
            f"{name}: {{dtype: {dtype}, shape: {shape}}}"
            for name, dtype, shape in features
        ]
        + [label[1]],
        "label": label[0],
        "loss": loss,
        "loss_reason": reason,
        "metric_lines": metrics,
    }


def _features(builder: str, model) -> list[tuple[str, str, str]]:
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
        dims = list(tensor.shape)[1:]
        if any(d is None for d in dims):
            raise UsageError(
                f"--from-keras {builder}: input {name!r} has shape {tensor.shape}; "
                "every dimension but the batch must be known"
            )
        features.append((name, dtype, _shape(tensor.shape)))
    return features


def _guess_task(model, taken: set[str]):
    width = model.outputs[0].shape[-1]
    activation = getattr(getattr(model.layers[-1], "activation", None), "__name__", "")
    label = "y" if "y" not in taken else "label"
    if width and width > 1 and activation == "softmax":
        loss, reason = "sparse_categorical_crossentropy", "the model ends in a softmax"
        label_line = f"{label}: {{dtype: int32, shape: [null, 1]}}   # TODO: class ids"
        accuracy = "accuracy: sparse_categorical_accuracy"
    elif width and width > 1 and activation in ("linear", ""):
        loss = "{sparse_categorical_crossentropy: {from_logits: true}}"
        reason = "the model outputs several unnormalised scores (logits)"
        label_line = f"{label}: {{dtype: int32, shape: [null, 1]}}   # TODO: class ids"
        accuracy = "accuracy: sparse_categorical_accuracy"
    elif width == 1 and activation == "sigmoid":
        loss, reason = "binary_crossentropy", "the model ends in one sigmoid"
        label_line = (
            f"{label}: {{dtype: float32, shape: [null, 1]}}   # TODO: 0/1 labels"
        )
        accuracy = "accuracy: binary_accuracy"
    else:
        loss, reason = "mean_squared_error", "the output looks like a regression"
        label_line = (
            f"{label}: {{dtype: float32, shape: [null, {width}]}}   # TODO: targets"
        )
        accuracy = "mse: mean_squared_error"
    metrics = ["loss: loss", accuracy, "num_examples: num_examples"]
    return (label, label_line), loss, reason, metrics


def _shape(shape) -> str:
    dims = ["null" if d is None else str(d) for d in list(shape)]
    return f"[{', '.join(dims)}]"
