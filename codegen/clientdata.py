"""A user's federated data as TFF users hold it: a ClientData, or a mapping of client datasets.

`--data MODULE:FUNCTION` names a zero-argument function returning a
`tff.simulation.datasets.ClientData` or a mapping of client id to
`tf.data.Dataset`. Elements are examples (or batches of them, which are
unbatched so that `--batch-size` applies) in one of these structures:

- a mapping with a key per spec input (`{"x": ..., "y": ...}` for inputs x and
  y, `{"tokens": ..., "label": ...}` for tokens and label);
- a mapping with keys `x` and `y`, `x` a mapping of feature names when the
  spec has several features (the structure of one batch of the model);
- a pair `(features, label)`, as Keras takes.

Their element specs are checked against the spec's inputs before anything
runs (no example is read); each client's dataset is created only when the
client is sampled. This module imports TensorFlow.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping, Sequence

import tensorflow as tf
import tensorflow_federated as tff

from codegen.spec import Input, Spec
from codegen.userdata import DataError, Source


class DatasetClients:
    """Clients whose `dataset(id)` is a `tf.data.Dataset` of `{"x", "y"}` examples."""

    def __init__(
        self, ids: Sequence[str], dataset: Callable[[str], tf.data.Dataset]
    ) -> None:
        self.ids = list(ids)
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, ids: Sequence[str]) -> DatasetClients:
        return DatasetClients(ids, self.dataset)


def from_user(value, spec: Spec, source: Source) -> DatasetClients:
    """Check what the user's function returned and convert it to `DatasetClients`."""
    where = f"{source.flag} {source.text}"
    if isinstance(value, tff.simulation.datasets.ClientData):
        ids = [str(cid) for cid in value.client_ids]
        if not ids:
            raise DataError([f"{where}: the ClientData has no clients"])
        convert = _converter(value.element_type_structure, spec, f"{where}: elements")
        return DatasetClients(
            ids, lambda cid: convert(value.create_tf_dataset_for_client(cid))
        )
    if not isinstance(value, Mapping):
        raise DataError(
            [
                f"{where}: expected a tff.simulation.datasets.ClientData or a mapping of "
                f"client id to tf.data.Dataset, found {type(value).__name__}"
            ]
        )
    if not value:
        raise DataError([f"{where}: the mapping has no clients"])
    keys = {str(key): key for key in value}
    if len(keys) != len(value):
        raise DataError([f"{where}: two client ids print the same (e.g. 1 and '1')"])
    problems = []
    converters = {}
    for cid, key in keys.items():
        dataset = value[key]
        if not isinstance(dataset, tf.data.Dataset):
            problems.append(
                f"{where}: client {cid!r}: expected a tf.data.Dataset, found "
                f"{type(dataset).__name__}"
            )
            continue
        if int(dataset.cardinality()) == 0:
            problems.append(f"{where}: client {cid!r}: no examples (an empty dataset)")
            continue
        try:
            converters[cid] = _converter(
                dataset.element_spec, spec, f"{where}: client {cid!r}"
            )
        except DataError as error:
            problems.extend(error.lines)
        if len(problems) >= 20:
            break
    if problems:
        raise DataError(problems)
    return DatasetClients(list(keys), lambda cid: converters[cid](value[keys[cid]]))


def _converter(
    element_spec, spec: Spec, where: str
) -> Callable[[tf.data.Dataset], tf.data.Dataset]:
    """A function mapping a user's dataset to `{"x", "y"}` examples of the spec's dtypes."""
    parts = _parts(element_spec, spec, where)
    problems = []
    batched = {}
    for item in spec.inputs:
        found = parts[item.name]
        problem, is_batched = _fit(item, found)
        if problem:
            problems.append(f"{where}: input {item.name!r}: {problem}")
        else:
            batched[item.name] = is_batched
    if problems:
        raise DataError(problems)
    if len(set(batched.values())) > 1:
        raise DataError(
            [f"{where}: some inputs come in batches and some as single examples"]
        )
    unbatch = any(batched.values())
    paths = _paths(element_spec, spec)

    def example(*element):
        element = element[0] if len(element) == 1 else element
        values = {}
        for item in spec.inputs:
            value = element
            for key in paths[item.name]:
                value = value[key]
            value = tf.cast(value, item.dtype)
            values[item.name] = tf.reshape(value, [int(d) for d in item.shape[1:]])
        features = spec.features
        x = (
            values[features[0].name]
            if len(features) == 1
            else collections.OrderedDict((f.name, values[f.name]) for f in features)
        )
        return collections.OrderedDict(x=x, y=values[spec.label])

    def convert(dataset: tf.data.Dataset) -> tf.data.Dataset:
        if unbatch:
            dataset = dataset.unbatch()
        return dataset.map(example)

    return convert


def _paths(element_spec, spec: Spec) -> dict[str, tuple]:
    """The keys leading to each input in an element (see the module docstring)."""
    names = [item.name for item in spec.inputs]
    if isinstance(element_spec, Mapping) and all(n in element_spec for n in names):
        return {name: (name,) for name in names}
    x, y = ("x", "y") if isinstance(element_spec, Mapping) else (0, 1)
    paths = {spec.label: (y,)}
    for feature in spec.features:
        paths[feature.name] = (x,) if len(spec.features) == 1 else (x, feature.name)
    return paths


def _parts(element_spec, spec: Spec, where: str) -> dict[str, object]:
    """The element spec of each input, or DataError saying what structure was expected."""
    names = [item.name for item in spec.inputs]
    expected = (
        f"expected elements with keys {', '.join(names)} (or x and y, or pairs "
        f"(features, label)), found {_describe(element_spec)}"
    )
    pair = (isinstance(element_spec, Mapping) and {"x", "y"} <= set(element_spec)) or (
        isinstance(element_spec, (tuple, list)) and len(element_spec) == 2
    )
    if (
        not (
            isinstance(element_spec, Mapping) and all(n in element_spec for n in names)
        )
        and not pair
    ):
        raise DataError([f"{where}: {expected}"])
    parts = {}
    for name, path in _paths(element_spec, spec).items():
        value = element_spec
        try:
            for key in path:
                value = value[key]
        except (KeyError, TypeError, IndexError):
            raise DataError([f"{where}: {expected}"]) from None
        if not isinstance(value, tf.TensorSpec):
            raise DataError(
                [
                    f"{where}: input {name!r}: expected a tensor, found {_describe(value)}"
                ]
            )
        parts[name] = value
    return parts


def _fit(item: Input, found: tf.TensorSpec) -> tuple[str | None, bool]:
    """(why `found` cannot feed `item` or None, whether it holds batches of examples)."""
    tail = [int(d) for d in item.shape[1:]]
    expected = f"{item.dtype} of shape {tail} per example (or batches of them)"
    dtype = found.dtype
    numeric = dtype.is_integer or dtype.is_floating or dtype == tf.bool
    if item.dtype.startswith("float") and not numeric:
        return f"expected {expected}, found {dtype.name} {_shape(found.shape)}", False
    if item.dtype.startswith("int") and not (dtype.is_integer or dtype == tf.bool):
        return f"expected {expected}, found {dtype.name} {_shape(found.shape)}", False
    if found.shape.rank is None:
        return None, False  # unknown rank: reshaped per example, checked when run
    dims = found.shape.as_list()
    if _squeezed_fit(dims, tail):
        return None, False
    if dims and _squeezed_fit(dims[1:], tail):
        return None, True
    return f"expected {expected}, found {dtype.name} {_shape(found.shape)}", False


def _squeezed_fit(dims: list, tail: list[int]) -> bool:
    """Whether `dims` (None unknown) match `tail` once dimensions of size 1 are dropped."""
    kept = [d for d in dims if d != 1]
    wanted = [d for d in tail if d != 1]
    return len(kept) == len(wanted) and all(
        d is None or d == w for d, w in zip(kept, wanted)
    )


def _shape(shape: tf.TensorShape) -> str:
    if shape.rank is None:
        return "of unknown shape"
    return (
        "[" + ", ".join("None" if d is None else str(d) for d in shape.as_list()) + "]"
    )


def _describe(element_spec) -> str:
    if isinstance(element_spec, tf.TensorSpec):
        return f"a tensor {element_spec.dtype.name} {_shape(element_spec.shape)}"
    if isinstance(element_spec, Mapping):
        return "a mapping with keys " + ", ".join(map(str, element_spec))
    if isinstance(element_spec, (tuple, list)):
        return f"a tuple of {len(element_spec)}"
    return type(element_spec).__name__


__all__ = ["DatasetClients", "from_user"]
