"""Node patterns for the passes: the small part of `libcst.matchers` they use, without its import.

`libcst.matchers` takes about 150 ms to import (it is generated code for every
node type); generation runs the passes on every module it renders, so they
use these patterns instead. `Name("self")` matches a `cst.Name` whose value
is "self"; `Call(func=Attribute(attr=Name("assign")))` nests; `a | b` matches
either; a field left out matches anything.
"""

from __future__ import annotations

from typing import Any, Union

import libcst as cst

_POSITIONAL = {"Name": "value", "Arg": "value", "Comment": "value"}


class Pattern:
    """Matches nodes of one libcst class whose named fields match."""

    def __init__(self, node_type: type, fields: dict[str, Any]) -> None:
        self.node_type = node_type
        self.fields = fields

    def __or__(self, other: Matcher) -> OneOf:
        return OneOf(self, other)

    @property
    def options(self) -> tuple[Pattern, ...]:
        return (self,)


class OneOf:
    """Matches what any of its patterns matches."""

    def __init__(self, *options: Matcher) -> None:
        flat: list[Pattern] = []
        for option in options:
            flat.extend(option.options)
        self.options = tuple(flat)

    def __or__(self, other: Matcher) -> OneOf:
        return OneOf(self, other)


Matcher = Union[Pattern, OneOf]


def matches(node: object, pattern: Matcher) -> bool:
    """Whether `node` matches `pattern`."""
    return any(_matches(node, option) for option in pattern.options)


def _matches(node: object, pattern: Pattern) -> bool:
    if not isinstance(node, pattern.node_type):
        return False
    for name, wanted in pattern.fields.items():
        value = getattr(node, name, None)
        if isinstance(wanted, (Pattern, OneOf)):
            if not matches(value, wanted):
                return False
        elif value != wanted:
            return False
    return True


def _factory(name: str):
    node_type = getattr(cst, name)
    positional = _POSITIONAL.get(name)

    def make(*args: Any, **fields: Any) -> Pattern:
        if args:
            if positional is None or len(args) > 1:
                raise TypeError(f"{name}() takes keyword fields only")
            fields[positional] = args[0]
        return Pattern(node_type, fields)

    make.__name__ = name
    return make


AnnAssign = _factory("AnnAssign")
Arg = _factory("Arg")
Assign = _factory("Assign")
Attribute = _factory("Attribute")
AugAssign = _factory("AugAssign")
BinaryOperation = _factory("BinaryOperation")
Call = _factory("Call")
Comment = _factory("Comment")
CompFor = _factory("CompFor")
For = _factory("For")
FunctionDef = _factory("FunctionDef")
Global = _factory("Global")
Import = _factory("Import")
ImportFrom = _factory("ImportFrom")
Name = _factory("Name")
Return = _factory("Return")
Subscript = _factory("Subscript")
UnaryOperation = _factory("UnaryOperation")
With = _factory("With")
WithItem = _factory("WithItem")
