"""Federated data for `wrapgen run`: scikit-learn's digits, synthetic data, or the user's table.

NumPy and scikit-learn only (no TensorFlow). Clients are read when sampled:
`ArrayClients.examples(id)` gives one client's `{"x": features, "y": label}`
arrays, shaped to the spec's declared inputs. A user's ClientData function is
held as `codegen.clientdata.DatasetClients` (TensorFlow).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from codegen.catalogue import FLOAT_DTYPES, INT_DTYPES
from codegen.errors import UsageError
from codegen.spec import Input, Spec
from codegen.synthetic import make_client_data

DIGIT_CLASSES = 10
DIGIT_PIXELS = 64


class ArrayClients:
    """Clients whose examples are NumPy arrays, fetched when a client is sampled."""

    def __init__(
        self,
        ids: Sequence[str],
        examples: Callable[[str], collections.OrderedDict],
    ) -> None:
        self.ids = list(ids)
        self.examples = examples

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_list(cls, clients: list[collections.OrderedDict]) -> ArrayClients:
        """Clients "0", "1", ... holding the given arrays."""
        return cls([str(i) for i in range(len(clients))], lambda c: clients[int(c)])

    @classmethod
    def from_table(cls, table, ids: Sequence[str] | None = None) -> ArrayClients:
        """The clients `ids` (default all) of a `codegen.userdata.Table`."""
        return cls(table.ids if ids is None else ids, table.examples)


@dataclass(frozen=True)
class FederatedData:
    """Training clients to sample from each round, and held-out evaluation clients.

    Each is an `ArrayClients` or a `codegen.clientdata.DatasetClients`: both
    have `ids` and a length.
    """

    train: object
    eval: object
    description: str


def digits(
    spec: Spec, num_clients: int, skew: float, seed: int, eval_fraction: float = 0.2
) -> FederatedData:
    """scikit-learn's 1,797 8x8 digits, non-IID by label skew.

    A share `eval_fraction` of the examples is held out (as 4 evaluation
    clients). Each remaining example goes, with probability `skew`, to one of
    the two clients that "own" its label, else to a client chosen uniformly:
    skew 0 is IID, skew 1 gives every client about two labels.
    """
    feature, label = _digit_inputs(spec)
    if not 0.0 <= skew <= 1.0:
        raise UsageError(f"--skew: expected a number in [0, 1], found {skew}")
    if num_clients < 1:
        raise UsageError(f"--data-clients: expected at least 1, found {num_clients}")
    from sklearn.datasets import load_digits

    data = load_digits()
    images = (data.data / 16.0).astype(FLOAT_NUMPY[feature.dtype])
    labels = data.target.astype(INT_NUMPY[label.dtype])
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))
    images, labels = images[order], labels[order]
    held_out = int(len(images) * eval_fraction)
    owners = (
        labels[held_out:] * 2 + rng.integers(0, 2, len(labels) - held_out)
    ) % num_clients
    random_owner = rng.integers(0, num_clients, len(owners))
    owner = np.where(rng.random(len(owners)) < skew, owners, random_owner)
    train_x, train_y = images[held_out:], labels[held_out:]
    shape_x = tuple(feature.shape[1:])
    shape_y = tuple(label.shape[1:])

    def client(x: np.ndarray, y: np.ndarray) -> collections.OrderedDict:
        return collections.OrderedDict(
            x=x.reshape((len(x), *shape_x)), y=y.reshape((len(y), *shape_y))
        )

    train = [
        client(train_x[owner == c], train_y[owner == c]) for c in range(num_clients)
    ]
    empty = sum(len(c["y"]) == 0 for c in train)
    if empty:
        raise UsageError(
            f"--data-clients {num_clients}: {empty} client(s) would get no digits; use fewer"
        )
    evaluation = [client(images[i:held_out:4], labels[i:held_out:4]) for i in range(4)]
    return FederatedData(
        ArrayClients.from_list(train),
        ArrayClients.from_list(evaluation),
        f"digits: {len(train_x)} training examples over {num_clients} clients "
        f"(label skew {skew}), {held_out} held out",
    )


def synthetic(
    spec: Spec, num_clients: int, examples: int, seed: int, output_width: int
) -> FederatedData:
    """Learnable synthetic data from the spec's inputs (see `codegen.synthetic`)."""
    clients = make_client_data(spec, num_clients + 2, examples, seed, output_width)
    return FederatedData(
        ArrayClients.from_list(clients[:num_clients]),
        ArrayClients.from_list(clients[num_clients:]),
        f"synthetic: {num_clients} clients x {examples} examples, 2 held-out clients",
    )


FLOAT_NUMPY = {"float16": np.float16, "float32": np.float32, "float64": np.float64}
INT_NUMPY = {"int32": np.int32, "int64": np.int64}


def check_digits(spec: Spec) -> None:
    """Raise a UsageError, before TensorFlow is imported, unless the spec can take the digits."""
    _digit_inputs(spec)


def _digit_inputs(spec: Spec) -> tuple[Input, Input]:
    """(feature, label) when the spec's inputs can take the digits; else a clear error."""
    label = spec.label_input
    problems = []
    if len(spec.features) != 1:
        problems.append(f"one feature input, found {len(spec.features)}")
    else:
        feature = spec.features[0]
        size = math.prod(d for d in feature.shape[1:] if d is not None)
        if feature.dtype not in FLOAT_DTYPES or size != DIGIT_PIXELS:
            problems.append(
                f"a float feature of {DIGIT_PIXELS} values per example (e.g. [null, 64] "
                f"or [null, 8, 8, 1]), found {feature.name!r} {feature.dtype} "
                f"{list(feature.shape)}"
            )
    tail = list(label.shape[1:])
    if label.dtype not in INT_DTYPES or tail not in ([], [1]):
        problems.append(
            f"an integer class label [null] or [null, 1], found {label.name!r} "
            f"{label.dtype} {list(label.shape)}"
        )
    if spec.loss.kind != "sparse_categorical_crossentropy":
        problems.append(
            f"the sparse_categorical_crossentropy loss, found {spec.loss.kind}"
        )
    if problems:
        raise UsageError(
            f"--data digits: the spec {spec.name} cannot take the digits: expected "
            + "; ".join(problems)
            + ". Train it on your own clients (--data PATH.npz, PATH.csv or "
            "MODULE:FUNCTION) or on data shaped by the spec (--data synthetic)"
        )
    return spec.features[0], label


__all__ = [
    "DIGIT_CLASSES",
    "ArrayClients",
    "FederatedData",
    "check_digits",
    "digits",
    "synthetic",
]
