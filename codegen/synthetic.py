"""Learnable synthetic federated data shaped by a spec's inputs (NumPy only).

Features are standard normal (floats) or uniform ids (integers). Labels come
from a fixed random linear teacher over all features, so a model that fits
the teacher's function class can drive the loss down.
"""

from __future__ import annotations

import collections
import math

import numpy as np

from codegen.catalogue import INT_DTYPES
from codegen.spec import Input, LayerStack, Spec


def embedding_rows(spec: Spec, feature: Input) -> int | None:
    """Rows of the embedding table an integer feature indexes, when the layers say so."""
    if isinstance(spec.forward, LayerStack) and spec.forward.input == feature.name:
        for layer in spec.forward.layers:
            if layer.kind == "embedding":
                table = next(
                    v for v in spec.variables if v.name == layer.params["table"]
                )
                return int(table.shape[0])
    return None


def vocabulary_size(spec: Spec, feature: Input) -> int:
    """Ids for an integer feature: the rows of the embedding table the layers use, else 10."""
    rows = embedding_rows(spec, feature)
    return 10 if rows is None else rows


def make_client_data(
    spec: Spec,
    num_clients: int,
    examples: int,
    seed: int,
    output_width: int | None = None,
) -> list[collections.OrderedDict]:
    """One `{"x": features, "y": label}` dict of arrays per client, from one shared teacher.

    `output_width` is the number of outputs of the model (classes for the
    categorical losses); it defaults to the width of the label.
    """
    label = spec.label_input
    label_tail = tuple(int(d) for d in label.shape[1:])
    tagged = _token_tagging(spec, label_tail)
    if tagged is not None:
        return _tagged_clients(spec, tagged, num_clients, examples, seed, output_width)
    width = output_width or (label_tail[-1] if label_tail else 1)
    if spec.loss.kind in ("mean_squared_error", "binary_crossentropy"):
        width = math.prod(label_tail) if label_tail else 1
    teacher = np.random.default_rng(seed)
    weights = {
        f.name: teacher.standard_normal(
            (vocabulary_size(spec, f), width)
            if f.dtype in INT_DTYPES
            else (_size(f), width)
        )
        for f in spec.features
    }
    clients = []
    for client in range(num_clients):
        rng = np.random.default_rng([seed, client + 1])
        features = collections.OrderedDict()
        score = np.zeros((examples, width))
        for feature in spec.features:
            shape = (examples, *(int(d) for d in feature.shape[1:]))
            if feature.dtype in INT_DTYPES:
                ids = rng.integers(0, vocabulary_size(spec, feature), size=shape)
                features[feature.name] = ids.astype(feature.dtype)
                score += weights[feature.name][ids.reshape(examples, -1)].mean(axis=1)
            else:
                values = rng.standard_normal(shape)
                features[feature.name] = values.astype(feature.dtype)
                score += (
                    values.reshape(examples, -1)
                    @ weights[feature.name]
                    / math.sqrt(_size(feature))
                )
        x = next(iter(features.values())) if len(features) == 1 else features
        clients.append(
            collections.OrderedDict(x=x, y=_label(spec, score, label, label_tail))
        )
    return clients


def _size(feature: Input) -> int:
    return math.prod(int(d) for d in feature.shape[1:])


def _label(
    spec: Spec, score: np.ndarray, label: Input, tail: tuple[int, ...]
) -> np.ndarray:
    kind = spec.loss.kind
    examples = score.shape[0]
    if kind == "sparse_categorical_crossentropy":  # one class id per label position
        values = score.reshape(examples, math.prod(tail), -1).argmax(axis=2)
    elif kind == "categorical_crossentropy":
        values = np.eye(score.shape[1])[score.argmax(axis=1)]
    elif kind == "binary_crossentropy":
        values = (score > 0).astype(np.float64)
    else:
        values = score
    return values.reshape((examples, *tail)).astype(label.dtype)


def _token_tagging(spec: Spec, label_tail: tuple[int, ...]) -> Input | None:
    """The integer feature whose every position has a class label (a sequence task
    such as next-token prediction), or None."""
    if spec.loss.kind != "sparse_categorical_crossentropy" or len(spec.features) != 1:
        return None
    feature = spec.features[0]
    tail = tuple(int(d) for d in feature.shape[1:])
    if feature.dtype in INT_DTYPES and len(tail) == 1 and tail == label_tail:
        return feature
    return None


def _tagged_clients(
    spec: Spec,
    feature: Input,
    num_clients: int,
    examples: int,
    seed: int,
    output_width: int | None,
) -> list[collections.OrderedDict]:
    """Sequences of ids, each position labelled by a fixed random map of its id.

    A per-position teacher over the whole vocabulary would need a
    vocabulary x classes matrix per position; a map from id to class is
    learnable by an embedding and a dense layer and costs one array.
    """
    vocabulary = vocabulary_size(spec, feature)
    steps = int(feature.shape[1])
    classes = max(1, (output_width or vocabulary * steps) // steps)
    mapping = np.random.default_rng(seed).integers(0, classes, size=vocabulary)
    clients = []
    for client in range(num_clients):
        rng = np.random.default_rng([seed, client + 1])
        ids = rng.integers(0, vocabulary, size=(examples, steps))
        label = mapping[ids].astype(spec.label_input.dtype)
        clients.append(collections.OrderedDict(x=ids.astype(feature.dtype), y=label))
    return clients
