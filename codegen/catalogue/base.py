"""The building blocks of catalogue entries: parameters, entries, dtypes and limits."""

from __future__ import annotations

import math
import struct
import sys
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

REQUIRED = object()
"""Default marker for a parameter that must be given."""


@dataclass(frozen=True)
class Param:
    """One parameter of a catalogue entry.

    kind is one of: "variable" (name of a declared variable), "int" (an
    int64: seeds), "positive_int" (1 to `MAX_DIMENSION`), "float",
    "positive" (x > 0), "non_negative" (x >= 0), "rate" (0 <= x < 1), "bool",
    "shape" (a list of dimensions, see `MAX_ELEMENTS`), "ids" (a list of
    distinct non-negative int64s, see `MAX_IDS`), "layers" (a list of layers:
    a sub-stack), or "enum" with `choices`. Every float must also be finite in the dtype the generated
    code gives it, and keep its range there (see `float_in`).
    """

    kind: str
    default: object = REQUIRED
    choices: tuple[str, ...] = ()
    later: bool = False
    """Added after format 1 shipped: at its default it leaves a spec's digest as it was."""


@dataclass(frozen=True)
class Entry:
    """One catalogue entry, read from its module in `codegen/catalogue/<section>/`.

    `name` is the module's name and the word a spec writes; `summary` is the
    first line of the module's docstring and `doc` the rest; `params` is the
    module's `PARAMS`; `template` the Jinja template (under `templates/`) that
    writes its code; `valid` and `invalid` are the module's `VALID` and
    `INVALID` spec fragments, from which `tests/test_catalogue.py` is made.
    Every other rule of the entry (shape rule, fit checks, template data) is a
    function of its module, reached through `hook`.
    """

    section: str
    name: str
    summary: str
    doc: str
    params: tuple[tuple[str, Param], ...]
    template: str
    valid: tuple[str, ...]
    invalid: tuple[tuple[str, str], ...]
    module: ModuleType = field(compare=False, repr=False)

    def param(self, name: str) -> Param | None:
        return dict(self.params).get(name)

    def hook(self, name: str, default: object = None) -> Any:
        """The module's attribute `name` (a rule or a flag), or `default`."""
        return getattr(self.module, name, default)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(name for name, p in self.params if p.default is REQUIRED)


DTYPES = ("float16", "float32", "float64", "int32", "int64", "bool")
FLOAT_DTYPES = ("float16", "float32", "float64")
"""Float dtypes, narrowest first."""
INT_DTYPES = ("int32", "int64")

INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
"""The integers each integer dtype holds."""

SEED_RANGE = INT_RANGES["int64"]
"""Seeds: the generated code passes them to TensorFlow as int64 tensors."""

MAX_DIMENSION = 2**31 - 1
"""Largest dimension, stride, pool size or axis: an int32, the dtype of `tf.shape`
and of the shape lists the generated code writes."""

MAX_ELEMENTS = 2**31 - 1
"""Most elements in one shape written in a spec (a variable, one example of an
input, a reshape target): element counts and indices stay int32, as many
TensorFlow kernels need, and a float32 variable stays under 8 GiB."""

TRAINING_DTYPE = "float32"
"""Dtype of optimizer hyperparameters and l2 (TFF's optimizers hold them as float32)."""

_FLOAT_FORMATS = {"float16": "e", "float32": "f", "float64": "d"}


def float_in(value: float, dtype: str) -> float | None:
    """`value` rounded to float `dtype` as TensorFlow converts it; None unless finite there."""
    if not math.isfinite(value):
        return None
    form = _FLOAT_FORMATS[dtype]
    try:
        held = struct.unpack(form, struct.pack(form, value))[0]
    except OverflowError:  # float16 raises; float32 gives inf instead
        return None
    return held if math.isfinite(held) else None


def float_max(dtype: str) -> float:
    """The largest finite value of float `dtype`."""
    return {"float16": 65504.0, "float32": 3.4028234663852886e38}.get(
        dtype, sys.float_info.max
    )


MAX_IDS = 100
"""Most ids in one list parameter (the masked token ids of a metric; TFF's tasks
mask at most 3)."""

MAX_INPUTS = 100
MAX_VARIABLES = 100
MAX_LAYERS = 100
MAX_METRICS = 100
"""Most entries per section. A spec at every limit, every name 40 characters
long, gives a module of about 320 KiB and 6,500 lines, within the verifier's
input limits (`codegen.pysource`), generated and verified in seconds;
`tests/test_spec_values.py` generates it."""
