"""Stage 1, load: spec text -> a tree of `Node`s that remember where they came from.

Only YAML's safe core types are read (mappings, sequences, strings, numbers,
booleans, null). Nothing is constructed from tags and nothing is executed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import yaml

from codegen.errors import Location, Problem, SpecError
from codegen.files import read_regular

MAX_SPEC_BYTES = 1024 * 1024
"""Spec files larger than this are refused before parsing."""

MAX_NODES = 20_000
"""Upper bound on nodes after alias expansion; stops alias bombs early."""

MAX_DEPTH = 50
"""Upper bound on nesting of mappings and lists (a valid spec needs about 6)."""

MAX_NUMBER_LENGTH = 100
"""Longest number, in characters. An int64 needs 20 and a float's shortest
repr 24; the bound keeps every conversion linear and far below Python's
limit on converting long decimal integers (`sys.set_int_max_str_digits`,
640 digits at the least), whatever the interpreter's setting."""

_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")

_SAFE_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}

Scalar = Union[str, int, float, bool, None]


@dataclass(frozen=True)
class Node:
    """A loaded YAML value with its location.

    `value` is a dict of key -> Node for mappings, a tuple of Nodes for
    sequences, or a scalar. `key_locations` holds where each mapping key is;
    `text` is a number as the spec writes it (`1.0e+400`, `.nan`).
    """

    value: object
    location: Location
    key_locations: dict[str, Location] = field(default_factory=dict)
    text: str | None = None

    @property
    def is_mapping(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_sequence(self) -> bool:
        return isinstance(self.value, tuple)


@dataclass(frozen=True)
class LoadedSpec:
    """The parsed tree of one spec file, with its raw bytes for hashing."""

    path: Path
    display_path: str
    raw: bytes
    root: Node


def load_spec(path: Path, display_path: str | None = None) -> LoadedSpec:
    """Read and parse the spec at `path`; raise `SpecError` on any problem."""
    shown = display_path if display_path is not None else str(path)
    start = Location(shown, 1, 1)
    try:
        if path.is_dir():
            raise SpecError(
                [Problem(start, "", "expected a spec file, found a directory")]
            )
        raw = read_regular(path, MAX_SPEC_BYTES)
    except FileNotFoundError:
        raise SpecError([Problem(start, "", "no such file")]) from None
    except OSError as exc:
        raise SpecError(
            [Problem(start, "", f"cannot read file: {exc.strerror}")]
        ) from None
    return LoadedSpec(path, shown, raw, parse_spec_bytes(raw, shown))


def parse_spec_bytes(raw: bytes, shown: str) -> Node:
    """Parse spec bytes into a `Node` tree whose root is a mapping."""
    start = Location(shown, 1, 1)
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(
            [
                Problem(
                    start,
                    "",
                    f"expected at most {MAX_SPEC_BYTES} bytes, found more",
                )
            ]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        message = f"expected UTF-8 text, found byte 0x{raw[exc.start]:02x}"
        raise SpecError([Problem(Location(shown, line, column), "", message)]) from None
    try:
        document = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        raise SpecError([_yaml_problem(exc, text, shown)]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem(start, "", f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise SpecError(
            [
                Problem(
                    start,
                    "",
                    f"expected at most {MAX_DEPTH} levels of nesting, found more",
                )
            ]
        ) from None
    if document is None:
        raise SpecError([Problem(start, "", "expected a mapping, found an empty file")])
    converter = _Converter(shown)
    root = converter.convert(document)
    if converter.problems:
        raise SpecError(converter.problems)
    if not root.is_mapping:
        raise SpecError(
            [Problem(root.location, "", f"expected a mapping, found {_kind(root)}")]
        )
    return root


def _yaml_problem(exc: yaml.MarkedYAMLError, text: str, shown: str) -> Problem:
    """PyYAML's error at its position, with its context and a hint for tabs."""
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return Problem(Location(shown, 1, 1), "", f"invalid YAML: {exc.problem}")
    where = Location(shown, mark.line + 1, mark.column + 1)
    if 0 <= mark.index < len(text) and text[mark.index] == "\t":
        return Problem(
            where,
            "",
            "invalid YAML: expected spaces, found a tab (YAML indents with spaces only)",
        )
    message = exc.problem or exc.context or "unreadable"
    context_mark = exc.context_mark
    if exc.context and exc.problem and context_mark is not None:
        at = f"line {context_mark.line + 1}, column {context_mark.column + 1}"
        if exc.problem.startswith("but "):
            message = f"{exc.context} (at {at}), {exc.problem}"
        else:
            message = f"{exc.problem} ({exc.context} at {at})"
    return Problem(where, "", f"invalid YAML: {message}")


def describe(node: Node) -> str:
    """A short human description of what a node holds, for error messages."""
    value = node.value
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, tuple):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    return f"string {value!r}"


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Converter:
    """Turns composed YAML nodes into `Node`s, collecting problems."""

    def __init__(self, shown: str) -> None:
        self._shown = shown
        self._count = 0
        self._constructor = yaml.constructor.SafeConstructor()
        self._open: set[int] = set()
        self.problems: list[Problem] = []

    def _where(self, node: yaml.Node) -> Location:
        mark = node.start_mark
        return Location(self._shown, mark.line + 1, mark.column + 1)

    def convert(self, node: yaml.Node, path: str = "") -> Node:
        """`node` as a `Node`; `path` is its field path, for located problems."""
        self._count += 1
        where = self._where(node)
        if self._count > MAX_NODES:
            message = f"expected at most {MAX_NODES} values after expanding aliases, found more"
            raise SpecError([Problem(where, "", message)])
        if id(node) in self._open:
            raise SpecError(
                [
                    Problem(
                        where,
                        "",
                        "expected plain data, found an alias that contains itself",
                    )
                ]
            )
        if len(self._open) >= MAX_DEPTH:
            message = f"expected at most {MAX_DEPTH} levels of nesting, found more"
            raise SpecError([Problem(where, "", message)])
        self._open.add(id(node))
        try:
            return self._convert(node, where, path)
        finally:
            self._open.discard(id(node))

    def _convert(self, node: yaml.Node, where: Location, path: str) -> Node:
        if node.tag not in _SAFE_TAGS:
            self.problems.append(
                Problem(where, "", f"expected plain YAML data, found tag {node.tag!r}")
            )
            return Node(None, where)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, where, path)
        if isinstance(node, yaml.SequenceNode):
            items = (
                self.convert(item, f"{path}[{index}]")
                for index, item in enumerate(node.value)
            )
            return Node(tuple(items), where)
        if node.tag in _NUMBER_TAGS:
            return self._number(node, where, path)
        return Node(self._constructor.construct_object(node), where)

    def _number(self, node: yaml.ScalarNode, where: Location, path: str) -> Node:
        """A number, refused before conversion when its text is over `MAX_NUMBER_LENGTH`."""
        text = node.value
        if len(text) > MAX_NUMBER_LENGTH:
            message = f"expected a number of at most {MAX_NUMBER_LENGTH} characters, found {len(text)}"
            self.problems.append(Problem(where, path, message))
            return Node(None, where)
        return Node(self._constructor.construct_object(node), where, text=text)

    def _mapping(self, node: yaml.MappingNode, where: Location, path: str) -> Node:
        values: dict[str, Node] = {}
        keys: dict[str, Location] = {}
        for key_node, value_node in node.value:
            key_where = self._where(key_node)
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append(
                    Problem(
                        key_where,
                        "",
                        "expected a text key, found a YAML merge key (<<), which specs do not support",
                    )
                )
                continue
            if (
                not isinstance(key_node, yaml.ScalarNode)
                or key_node.tag != "tag:yaml.org,2002:str"
            ):
                found = describe(self.convert(key_node, path))
                self.problems.append(
                    Problem(key_where, "", f"expected a text key, found {found}")
                )
                continue
            key = key_node.value
            if key in keys:
                first = keys[key]
                message = f"duplicate key {key!r}, first defined at line {first.line}"
                self.problems.append(Problem(key_where, "", message))
                continue
            keys[key] = key_where
            values[key] = self.convert(value_node, f"{path}.{key}" if path else key)
        return Node(values, where, keys)


def _kind(node: Node) -> str:
    """What a node holds, without its value: the file may not be a spec at all."""
    value = node.value
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return describe(node)
