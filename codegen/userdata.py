"""The user's own federated data for `wrapgen run --data`: npz and CSV tables, checked.

NumPy only: a table is read and checked before TensorFlow is imported, so bad
data is reported in a second, one line per problem, and nothing runs.

Forms of `--data` (and `--eval-data`):

- `PATH.npz`: one array per spec input, named like the input, plus a
  `client_id` array (integers or strings), one row per example. Members saved
  uncompressed (`np.savez`) stay on disk (`_Member`): only the rows of a
  client that is sampled are read, and checks read the arrays in chunks; compressed
  members (`np.savez_compressed`) are decompressed into memory, once.
- `PATH.csv`: a header line, then one example per line. An input of one value
  per example is a column named like it (`y`, or `y_0`); an input of several
  values is the columns `NAME_0 ... NAME_{k-1}`, its values in row-major (C)
  order of its per-example shape; a `client_id` column names each row's
  client. Read with `np.loadtxt` (NumPy's C parser); pandas and pyarrow are not
  wrapgen dependencies, so Parquet is refused with a hint to write npz or CSV.
- `MODULE:FUNCTION`: a zero-argument function returning a
  `tff.simulation.datasets.ClientData` or a mapping of client id to
  `tf.data.Dataset` (imported from the current directory, as `init
  --from-keras` does); checked against the spec in `codegen.clientdata`.

An array may leave out or add dimensions of size 1 (a label of shape [N] for
an input [null, 1]; images [N, 28, 28] for [null, 28, 28, 1]). Integers feed
float inputs (cast); floats never feed integer inputs.
"""

from __future__ import annotations

import collections
import csv
import importlib
import io
import math
import os
import re
import stat
import struct
import sys
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codegen.catalogue import FLOAT_DTYPES, INT_DTYPES
from codegen.errors import UsageError, printable
from codegen.files import NotRegularFile, kind_of
from codegen.names import DOTTED_MODULE
from codegen.spec import Input, LayerStack, Spec
from codegen.synthetic import embedding_rows

CLIENT_COLUMN = "client_id"
BUILT_IN = ("digits", "synthetic")
TABLE_SUFFIXES = (".npz", ".csv")
CHUNK_BYTES = 32 * 2**20
"""Checks read an array this many bytes at a time (an uncompressed npz member stays on disk)."""

MAX_PROBLEMS = 20
MAX_CLIENT_ID_CHARS = 256
"""The longest client id (a longer one is refused, naming its row)."""
MAX_ID_DTYPE_CHARS = 4096
"""An npz `client_id` array of wider strings is refused before it is read."""


class DataError(UsageError):
    """The data does not fit the spec: one line per problem, exit 2."""

    def __init__(self, lines: list[str]) -> None:
        shown = lines[:MAX_PROBLEMS]
        if len(lines) > MAX_PROBLEMS:
            shown.append(f"... and {len(lines) - MAX_PROBLEMS} more problem(s)")
        super().__init__("\n".join(shown))
        self.lines = lines


@dataclass(frozen=True)
class Source:
    """What a `--data`/`--eval-data` value names."""

    kind: str  # "digits", "synthetic", "npz", "csv" or "function"
    text: str
    flag: str = "--data"

    @property
    def path(self) -> Path:
        return Path(self.text)

    @property
    def is_table(self) -> bool:
        return self.kind in ("npz", "csv")


def parse_source(text: str, flag: str = "--data") -> Source:
    """The form of a `--data` value: a built-in name, an npz/CSV path, or module:function."""
    built_in = BUILT_IN if flag == "--data" else ()
    if text in built_in:
        return Source(text, text, flag)
    suffix = Path(text).suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return Source(suffix[1:], text, flag)
    if suffix in (".parquet", ".pq"):
        raise UsageError(
            f"{flag} {text}: Parquet needs a Parquet reader (pyarrow or pandas), which "
            "is not a wrapgen dependency; write the table as .npz or .csv"
        )
    module, colon, function = text.partition(":")
    if colon and DOTTED_MODULE.match(module) and function.isidentifier():
        return Source("function", text, flag)
    forms = [*built_in, "PATH.npz", "PATH.csv"]
    forms = ", ".join(forms) + " or MODULE:FUNCTION"
    raise UsageError(f"{flag}: expected {forms}, found {text!r}")


def import_function(source: Source):
    """Import the user's `module:function` from the current directory and call it.

    This runs the user's code, which is what the command line asks for.
    """
    module_name, _, function_name = source.text.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # noqa: BLE001 - the user's module failed to import; say so
        raise UsageError(
            f"{source.flag} {source.text}: cannot import it: {exc!r}"
        ) from None
    if not callable(function):
        raise UsageError(
            f"{source.flag} {source.text}: expected a function, found "
            f"{type(function).__name__}"
        )
    try:
        return function()
    except Exception as exc:  # noqa: BLE001 - the user's function failed; say so
        raise UsageError(
            f"{source.flag} {source.text}: the function raised {exc!r}"
        ) from None


# --- reading -----------------------------------------------------------------------


def _open_regular(path: Path, flag: str):
    """`path` opened for binary reading, refused unless it is a regular file.

    As `codegen.files.read_regular`: a FIFO would block a read (or an open)
    forever and a device such as /dev/zero never ends, so the kind is checked
    with `stat` before opening, the open does not wait for a FIFO's writer, and
    `fstat` checks the kind again once open (a file swapped meanwhile).
    """
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, kind_of(mode))
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)
        descriptor = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            os.close(descriptor)
            raise NotRegularFile(path, kind_of(mode))
    except NotRegularFile as exc:
        raise UsageError(
            f"{flag} {path}: is {exc.kind}, expected a regular file"
        ) from None
    except FileNotFoundError:
        raise UsageError(f"{flag} {path}: no such file") from None
    except OSError as exc:
        raise UsageError(
            f"{flag} {path}: cannot read it: {exc.strerror or exc}"
        ) from None
    return os.fdopen(descriptor, "rb", buffering=0)


class _Member:
    """An uncompressed npz member, read from the file row by row as asked.

    The array's header is read with NumPy's `np.lib.format`; rows are then read
    with plain file reads into a new array (one read per run of consecutive
    rows). A memory map would do the same, but every page it faults in (and
    the neighbours the kernel maps around it) counts as resident memory while
    mapped: a client whose rows are scattered over a 1 GB file would briefly
    add most of the file to the process's resident size.
    """

    def __init__(
        self, path: Path, dtype: np.dtype, shape: tuple, fortran: bool, offset: int
    ):
        self.path, self.dtype, self.shape = path, dtype, shape
        self.fortran = fortran and len(shape) > 1
        self.offset = offset
        self.ndim = len(shape)
        self.row_bytes = dtype.itemsize * math.prod(shape[1:])

    def __len__(self) -> int:
        return self.shape[0] if self.shape else 0

    def __getitem__(self, index) -> np.ndarray:
        if self.fortran or not self.shape or math.prod(self.shape) == 0:
            return self._mapped(index)
        if isinstance(index, slice):
            index = np.arange(*index.indices(self.shape[0]))
        index = np.asarray(index, dtype=np.int64)
        out = np.empty((len(index), *self.shape[1:]), self.dtype)
        if len(index) == 0:
            return out
        buffer = memoryview(out.reshape(-1).view(np.uint8))
        breaks = np.flatnonzero(np.diff(index) != 1) + 1
        starts = np.concatenate([[0], breaks])
        stops = np.concatenate([breaks, [len(index)]])
        with _open_regular(self.path, "--data") as handle:
            for first, last in zip(starts.tolist(), stops.tolist()):
                handle.seek(self.offset + int(index[first]) * self.row_bytes)
                wanted = buffer[first * self.row_bytes : last * self.row_bytes]
                if _read_into(handle, wanted) != len(wanted):
                    raise UsageError(f"{self.path}: the file ends inside an array")
        return out

    def _mapped(self, index) -> np.ndarray:
        """Fortran-ordered (or empty) arrays: through a memory map, dropped at once."""
        with _open_regular(self.path, "--data") as handle:
            mapped = np.memmap(
                handle,
                self.dtype,
                "r",
                self.offset,
                self.shape,
                "F" if self.fortran else "C",
            )
            try:
                return np.array(mapped[index])
            finally:
                del mapped


def _read_into(stream, buffer: memoryview) -> int:
    """Fill `buffer` from `stream` (a file or a zip member); the bytes read."""
    done = 0
    while done < len(buffer):
        step = stream.readinto(buffer[done : done + CHUNK_BYTES])
        if not step:
            break
        done += step
    return done


MAX_HEADER_BYTES = 10_000
"""The longest .npy header read (NumPy's own `max_header_size`); checked before reading it."""
MAX_INFLATE_RATIO = 200
MAX_INFLATE_UNCHECKED = 256 * 2**20
"""A compressed member larger than this when decompressed must not expand more than
`MAX_INFLATE_RATIO` times (a zip bomb): its data is held in memory."""


@dataclass
class _Header:
    """What an npz member's .npy header says, and where its data is."""

    info: zipfile.ZipInfo
    shape: tuple
    fortran: bool
    dtype: np.dtype
    offset: int | None  # of the data in the npz file (stored members), else None

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _read_npy_header(stream) -> tuple[tuple, bool, np.dtype]:
    """(shape, fortran, dtype) of the .npy data starting in `stream`, its length bounded."""
    magic = stream.read(8)
    if len(magic) != 8 or magic[:6] != b"\x93NUMPY":
        raise ValueError("not a .npy array (no \\x93NUMPY magic)")
    version = (magic[6], magic[7])
    if version not in ((1, 0), (2, 0)):
        raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
    length_format = "<H" if version == (1, 0) else "<I"
    raw_length = stream.read(struct.calcsize(length_format))
    if len(raw_length) != struct.calcsize(length_format):
        raise ValueError("the array header is cut short")
    (length,) = struct.unpack(length_format, raw_length)
    if length > MAX_HEADER_BYTES:
        raise ValueError(
            f"an array header of {length:,} bytes (at most {MAX_HEADER_BYTES:,})"
        )
    header = stream.read(length)
    if len(header) != length:
        raise ValueError("the array header is cut short")
    read = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    shape, fortran, dtype = read(io.BytesIO(raw_length + header))
    if dtype.hasobject:
        raise ValueError("object arrays (pickled) are not supported")
    return tuple(int(d) for d in shape), bool(fortran), dtype


def _npz_headers(
    path: Path, archive: zipfile.ZipFile, raw, wanted: list[str]
) -> dict[str, _Header]:
    """The headers of the members named in `wanted` (other members are never read)."""
    infos: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        name = info.filename[:-4] if info.filename.endswith(".npy") else None
        if name not in wanted:
            continue
        if name in infos:
            raise DataError([f"{path}: two arrays named {name!r}"])
        infos[name] = info
    file_size = os.fstat(raw.fileno()).st_size
    headers = {}
    for name, info in infos.items():
        try:
            if info.flag_bits & 0x1:
                raise ValueError("it is encrypted")
            if info.compress_type == zipfile.ZIP_STORED:
                raw.seek(info.header_offset)
                local = raw.read(30)
                if len(local) != 30 or local[:4] != b"PK\x03\x04":
                    raise ValueError("a bad zip entry")
                name_length, extra_length = struct.unpack("<HH", local[26:30])
                start = info.header_offset + 30 + name_length + extra_length
                raw.seek(start)
                shape, fortran, dtype = _read_npy_header(raw)
                header = _Header(info, shape, fortran, dtype, raw.tell())
                end = start + info.compress_size
                if header.offset + header.nbytes > min(end, file_size):
                    raise ValueError(
                        f"its header says {header.nbytes:,} bytes of data "
                        f"({dtype} {list(shape)}); the member holds "
                        f"{max(0, min(end, file_size) - header.offset):,}"
                    )
            else:
                with archive.open(info) as member:
                    shape, fortran, dtype = _read_npy_header(member)
                header = _Header(info, shape, fortran, dtype, None)
                if (
                    header.nbytes > MAX_INFLATE_UNCHECKED
                    and header.nbytes > MAX_INFLATE_RATIO * max(1, info.compress_size)
                ):
                    raise ValueError(
                        f"it expands from {info.compress_size:,} compressed bytes to "
                        f"{header.nbytes:,} (over {MAX_INFLATE_RATIO}x: a zip bomb?); "
                        "save it uncompressed (np.savez), which is read from disk"
                    )
        except (
            ValueError,
            OSError,
            EOFError,
            RuntimeError,
            NotImplementedError,
            zipfile.BadZipFile,
            zlib.error,
            SyntaxError,
        ) as exc:
            raise DataError([f"{path}: {name}: cannot read it: {exc}"]) from None
        headers[name] = header
    return headers


def _load_member(path: Path, archive: zipfile.ZipFile, header: _Header):
    """A stored member as a `_Member` (read from disk when asked); a compressed one inflated."""
    if header.offset is not None:
        return _Member(path, header.dtype, header.shape, header.fortran, header.offset)
    name = header.info.filename[:-4]
    out = np.empty(math.prod(header.shape), header.dtype)
    try:
        with archive.open(header.info) as member:
            _read_npy_header(member)
            got = _read_into(member, memoryview(out.view(np.uint8)))
    except (
        ValueError,
        OSError,
        EOFError,
        RuntimeError,
        zipfile.BadZipFile,
        zlib.error,
    ) as exc:
        raise DataError([f"{path}: {name}: cannot read it: {exc}"]) from None
    if got != header.nbytes:
        raise DataError(
            [f"{path}: {name}: cannot read it: the member ends inside the array"]
        )
    if header.fortran:
        return out.reshape(header.shape[::-1]).transpose()
    return out.reshape(header.shape)


def _npz_table(path: Path, spec: Spec, flag: str) -> Table:
    wanted = [item.name for item in spec.inputs] + [CLIENT_COLUMN]
    with _open_regular(path, flag) as raw:
        try:
            archive = zipfile.ZipFile(raw)
        except (OSError, zipfile.BadZipFile, ValueError, EOFError) as exc:
            raise UsageError(f"{path}: cannot read it as an npz file: {exc}") from None
        with archive:
            return _npz_checked(path, spec, archive, raw, wanted)


def _npz_checked(path: Path, spec: Spec, archive, raw, wanted: list[str]) -> Table:
    headers = _npz_headers(path, archive, raw, wanted)
    problems = []
    missing = [name for name in wanted if name not in headers]
    if missing:
        names = [
            info.filename[:-4]
            for info in archive.infolist()
            if info.filename.endswith(".npy")
        ]
        have = ", ".join(printable(n) for n in sorted(set(names))[:20]) or "none"
        if len(set(names)) > 20:
            have += f" (and {len(set(names)) - 20} more)"
        for name in missing:
            what = "the client of each row" if name == CLIENT_COLUMN else "an input"
            problems.append(
                f"{path}: missing array {name!r} ({what}); the file has: {have}"
            )
        raise DataError(problems)
    ids = headers[CLIENT_COLUMN]
    if len(ids.shape) != 1:
        raise DataError(
            [
                f"{path}: {CLIENT_COLUMN}: expected one id per row (shape [N]), "
                f"found shape {list(ids.shape)}"
            ]
        )
    if ids.dtype.kind not in "iuUS":
        raise DataError(
            [
                f"{path}: {CLIENT_COLUMN}: expected integer or string ids, found "
                f"{ids.dtype}"
            ]
        )
    width = ids.dtype.itemsize // (4 if ids.dtype.kind == "U" else 1)
    if ids.dtype.kind in "US" and width > MAX_ID_DTYPE_CHARS:
        raise DataError(
            [
                f"{path}: {CLIENT_COLUMN}: expected ids of at most "
                f"{MAX_CLIENT_ID_CHARS} characters, found {ids.dtype}"
            ]
        )
    rows = ids.shape[0]
    for item in spec.inputs:
        header = headers[item.name]
        problem = _fit(item, header.shape, header.dtype, rows)
        if problem:
            problems.append(f"{path}: {item.name}: {problem}")
    if problems:
        raise DataError(problems)
    clients = _column(_load_member(path, archive, ids))
    arrays = {
        item.name: _load_member(path, archive, headers[item.name])
        for item in spec.inputs
    }
    return Table(path, spec, arrays, clients, None)


def _column(member) -> np.ndarray:
    return member[:] if isinstance(member, _Member) else np.asarray(member)


def _fit(item: Input, shape: tuple, dtype: np.dtype, rows: int) -> str | None:
    """Why an array of `shape` and `dtype` cannot feed `item`, or None."""
    tail = tuple(int(d) for d in item.shape[1:])
    expected = f"{item.dtype} of shape [N, {', '.join(map(str, tail))}]".replace(
        ", ]", "]"
    )
    if not shape or shape[0] != rows:
        return (
            f"expected {rows} rows (one per {CLIENT_COLUMN}), found shape {list(shape)}"
        )
    if tuple(d for d in shape[1:] if d != 1) != tuple(d for d in tail if d != 1):
        return f"expected {expected}, found shape {list(shape)}"
    if item.dtype in FLOAT_DTYPES and dtype.kind not in "fiub":
        return f"expected {expected} (numbers), found {dtype}"
    if item.dtype in INT_DTYPES and dtype.kind not in "iub":
        return f"expected {expected} (integers), found {dtype}"
    return None


def _csv_table(path: Path, spec: Spec, flag: str) -> Table:
    names, codes, ids, lines, lengths = _scan_csv(path, flag)
    position = {}
    for index, name in enumerate(names):
        position.setdefault(name, index)
    problems = []
    columns: dict[str, list[int]] = {}
    for item in spec.inputs:
        size = math.prod(int(d) for d in item.shape[1:])
        wanted = [f"{item.name}_{i}" for i in range(size)]
        if size == 1 and item.name in position:
            wanted = [item.name]
        absent = [name for name in wanted if name not in position]
        if absent:
            shown = ", ".join(absent[:3]) + (
                f" (and {len(absent) - 3} more)" if len(absent) > 3 else ""
            )
            scheme = (
                f"{item.name!r} (or {item.name}_0)"
                if size == 1
                else f"{item.name}_0 ... {item.name}_{size - 1}"
            )
            problems.append(
                f"{path}:1: missing column(s) {shown} for input {item.name!r}: "
                f"expected {scheme}"
            )
        else:
            columns[item.name] = [position[name] for name in wanted]
    if CLIENT_COLUMN not in position:
        problems.append(
            f"{path}:1: missing column {CLIENT_COLUMN!r} (the client of each row)"
        )
    for name in [
        *(n for c in columns.values() for n in c),
        position.get(CLIENT_COLUMN),
    ]:
        if name is not None and names.count(names[name]) > 1:
            where = [i + 1 for i, n in enumerate(names) if n == names[name]]
            problems.append(
                f"{path}:1: column {names[name]!r} appears {len(where)} times "
                f"(fields {', '.join(map(str, where))}): expected it once"
            )
            break
    if problems:
        raise DataError(problems)
    if lengths:  # lines of the wrong length: after the header's own problems
        raise DataError(lengths)
    if not len(codes):
        raise DataError([f"{path}: no examples (0 rows)"])
    arrays = {}
    for item in spec.inputs:
        parse = (
            np.float64
            if item.dtype in INT_DTYPES or item.dtype == "float64"
            else np.float32
        )
        values = _loadtxt(path, flag, columns[item.name], parse, names, lines)
        if len(values) != len(codes):  # the two readers disagree on the rows
            raise DataError(
                [
                    f"{path}: NumPy's reader finds {len(values)} rows, Python's csv "
                    f"module {len(codes)}: check the file's quotes and line endings"
                ]
            )
        if item.dtype in INT_DTYPES:
            whole = np.isfinite(values) & (values == np.floor(values))
            if not whole.all():
                row, col = np.argwhere(~whole)[0]
                problems.append(
                    f"{path}:{lines[row]}: {names[columns[item.name][col]]}: "
                    f"expected an integer for input {item.name!r} ({item.dtype}), "
                    f"found {values[row, col]!r}"
                )
                continue
        shape = (len(values), *(int(d) for d in item.shape[1:]))
        arrays[item.name] = values.reshape(shape)
    if problems:
        raise DataError(problems)
    headers = {
        item.name: [names[i] for i in columns[item.name]] for item in spec.inputs
    }
    return Table(path, spec, arrays, codes, lines, headers, ids)


MAX_FIELD_CHARS = 131_072
"""The longest CSV field read (the csv module's default limit)."""


def _scan_csv(
    path: Path, flag: str
) -> tuple[list[str], np.ndarray, list[str], np.ndarray, list[str]]:
    """(header names, client code of each row, client ids, file line of each row,
    the problem of lines with the wrong number of fields).

    One pass of Python's csv reader checks that every data line has as many
    fields as the header and no field is longer than `MAX_FIELD_CHARS`, and
    reads the client ids (each distinct id held once; blank lines skipped,
    as `np.loadtxt` does). The numbers are read by `np.loadtxt` afterwards.
    """
    names: list[str] = []
    codes: list[int] = []
    lines: list[int] = []
    known: dict[str, int] = {}
    problems: list[str] = []
    short = extra = 0
    limit = csv.field_size_limit()
    start = 1
    with _open_regular(path, flag) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        try:
            csv.field_size_limit(MAX_FIELD_CHARS)
            header = next(reader, None)
            if not header:
                raise DataError(
                    [f"{path}:1: expected a header line naming the columns"]
                )
            names = [name.strip() for name in header]
            width = len(names)
            client = names.index(CLIENT_COLUMN) if CLIENT_COLUMN in names else None
            start = reader.line_num + 1
            for record in reader:
                if record:
                    if len(record) != width:
                        if not short + extra:
                            problems.append(
                                f"{path}:{start}: expected {width} fields (as in the "
                                f"header), found {len(record)}"
                            )
                        short += len(record) < width
                        extra += len(record) > width
                    elif client is not None:
                        codes.append(known.setdefault(record[client], len(known)))
                        lines.append(start)
                start = reader.line_num + 1
        except csv.Error as exc:
            reason = (
                f"a field longer than {MAX_FIELD_CHARS:,} characters"
                if "field limit" in str(exc)
                else str(exc)
            )
            raise DataError([f"{path}:{start}: cannot read it: {reason}"]) from None
        except UnicodeDecodeError as exc:
            raise DataError(
                [
                    f"{path}:{_bad_utf8_line(path, flag)}: expected UTF-8 text: {exc.reason}"
                ]
            ) from None
        finally:
            csv.field_size_limit(limit)
    if short + extra > 1:
        problems[0] += f" (and {short + extra - 1} more line(s) of the wrong length)"
    return (
        names,
        np.asarray(codes, np.int64),
        list(known),
        np.asarray(lines, np.int64),
        problems,
    )


def _bad_utf8_line(path: Path, flag: str) -> int:
    """The line of a file holding its first byte that is not UTF-8."""
    with _open_regular(path, flag) as raw:
        for number, line in enumerate(io.BufferedReader(raw), start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 1


_LOADTXT_ROW = re.compile(r"at row (\d+)")
_LOADTXT_CONVERT = re.compile(
    r"could not convert string '(.*)' to (\w+) at row (\d+), column (\d+)"
)
_LOADTXT_COLUMNS = re.compile(
    r"invalid column index \d+ at row (\d+) with (\d+) columns"
)


def _loadtxt(
    path: Path,
    flag: str,
    usecols: list[int],
    dtype,
    names: list[str],
    lines: np.ndarray,
) -> np.ndarray:
    def line(row: int) -> int:
        return int(lines[row]) if 0 <= row < len(lines) else row + 2

    try:
        with warnings.catch_warnings(), _open_regular(path, flag) as raw:
            warnings.simplefilter("ignore")  # "input contained no data": checked after
            return np.loadtxt(
                io.TextIOWrapper(raw, encoding="utf-8-sig"),
                delimiter=",",
                skiprows=1,
                usecols=usecols,
                dtype=dtype,
                ndmin=2,
                comments=None,
                quotechar='"',
            )
    except ValueError as exc:
        text = str(exc)
        converted = _LOADTXT_CONVERT.search(text)
        if converted:
            value, _, row, column = converted.groups()
            column_name = (
                names[int(column) - 1] if int(column) <= len(names) else column
            )
            raise DataError(
                [
                    f"{path}:{line(int(row))}: {column_name}: expected a number, "
                    f"found {value!r}"
                ]
            ) from None
        short = _LOADTXT_COLUMNS.search(text)
        if short:
            row, count = short.groups()  # this message counts rows from 1
            raise DataError(
                [
                    f"{path}:{line(int(row) - 1)}: expected {len(names)} fields "
                    f"(as in the header), found {count}"
                ]
            ) from None
        row = _LOADTXT_ROW.search(text)
        where = f"{path}:{line(int(row.group(1)))}" if row else str(path)
        raise DataError([f"{where}: {text}"]) from None


# --- the table ---------------------------------------------------------------------


class Table:
    """Examples of many clients: one array per spec input and the client of each row.

    Rows are grouped by client once (an argsort of the client ids, or plain
    slices when each client's rows are contiguous); `examples(client)` reads
    that client's rows only.
    """

    def __init__(
        self,
        path: Path,
        spec: Spec,
        arrays: dict,
        clients: np.ndarray,
        lines: np.ndarray | None,
        headers: dict[str, list[str]] | None = None,
        names: list[str] | None = None,
    ) -> None:
        """`clients`: the id of each row, or (CSV) its index in `names`;
        `lines`: the file line of each row (CSV)."""
        self.path, self.spec, self.arrays, self._lines = path, spec, arrays, lines
        self._headers = headers
        self.rows = len(clients)
        unique, first, inverse, counts = np.unique(
            clients, return_index=True, return_inverse=True, return_counts=True
        )
        self._client_of_row = clients
        if names is not None:
            labels = [names[int(code)] for code in unique]
        elif unique.dtype.kind == "S":
            labels = []
            for i, value in enumerate(unique.tolist()):
                try:
                    labels.append(value.decode("utf-8"))
                except UnicodeDecodeError:
                    raise DataError(
                        [
                            f"{self.where(int(first[i]))} {CLIENT_COLUMN}: expected UTF-8 "
                            f"text, found {value!r}"
                        ]
                    ) from None
        else:
            labels = [str(value) for value in unique.tolist()]
        self._labels = labels
        self._names = names
        appearance = np.argsort(first, kind="stable")  # clients in order of first row
        problems = []
        for i in appearance.tolist():
            label = labels[i]
            if label == "":
                problems.append(
                    f"{self.where(int(first[i]))} {CLIENT_COLUMN}: expected a client "
                    f"id, found {label!r}"
                    + (f" (and {counts[i] - 1} more row(s))" if counts[i] > 1 else "")
                )
            elif len(label) > MAX_CLIENT_ID_CHARS:
                problems.append(
                    f"{self.where(int(first[i]))} {CLIENT_COLUMN}: expected an id of at "
                    f"most {MAX_CLIENT_ID_CHARS} characters, found {len(label):,}"
                )
            if len(problems) >= MAX_PROBLEMS:
                break
        if problems:
            raise DataError(problems)
        self.ids = [labels[i] for i in appearance]
        self._counts = {labels[i]: int(counts[i]) for i in appearance}
        order = np.argsort(inverse, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(counts)])
        # A client's rows are contiguous when its last row is as far from its first as
        # it has rows (the sort is stable): then a slice reads them, else their indices.
        contiguous = order[bounds[1:] - 1] - order[bounds[:-1]] == counts - 1
        self._rows: dict[str, object] = {}
        for i in appearance:
            start, stop = int(bounds[i]), int(bounds[i + 1])
            first_row = int(order[start])
            self._rows[labels[i]] = (
                slice(first_row, first_row + int(counts[i]))
                if contiguous[i]
                else order[start:stop]
            )
        if len(self.ids) != len(set(self.ids)):
            raise DataError(
                [f"{path}: {CLIENT_COLUMN}: two ids print the same (e.g. 1 and '1')"]
            )

    def __len__(self) -> int:
        return len(self.ids)

    def size(self, client: str) -> int:
        return self._counts[client]

    def where(self, row: int) -> str:
        """`data.csv:LINE:` or `data.npz: row N (client C):` for messages."""
        if self._lines is not None:
            return f"{self.path}:{int(self._lines[row])}:"
        client = self._client_of_row[row].item()
        if isinstance(client, bytes):
            client = client.decode("utf-8", "backslashreplace")
        if isinstance(client, str) and len(client) > 40:
            client = client[:40] + "..."
        return f"{self.path}: row {row} (client {client!r}):"

    def column(self, name: str, index: int) -> str:
        """The CSV column holding value `index` of an input, or the input's name (npz)."""
        return self._headers[name][index] if self._headers else name

    def examples(self, client: str) -> collections.OrderedDict:
        """One client's rows as `{"x": features, "y": label}` arrays of the spec's dtypes."""
        index = self._rows[client]
        values = {}
        for item in self.spec.inputs:
            array = self.arrays[item.name][index]
            shape = (len(array), *(int(d) for d in item.shape[1:]))
            values[item.name] = np.asarray(array, dtype=item.dtype).reshape(shape)
        features = self.spec.features
        x = (
            values[features[0].name]
            if len(features) == 1
            else collections.OrderedDict((f.name, values[f.name]) for f in features)
        )
        return collections.OrderedDict(x=x, y=values[self.spec.label])

    def chunks(self, name: str) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, rows) of an input's array, `CHUNK_BYTES` at a time, as 2-D arrays."""
        array = self.arrays[name]
        width = max(1, math.prod(array.shape[1:]))
        step = max(1, CHUNK_BYTES // (width * array.dtype.itemsize))
        for start in range(0, self.rows, step):
            yield start, np.asarray(array[start : start + step]).reshape(-1, width)


def load_table(source: Source, spec: Spec, classes: int | None) -> Table:
    """Read and check an npz or CSV table against the spec (see `check`)."""
    path = source.path
    table = (
        _npz_table(path, spec, source.flag)
        if source.kind == "npz"
        else _csv_table(path, spec, source.flag)
    )
    if table.rows == 0:
        raise DataError([f"{path}: no examples (0 rows)"])
    check(table, classes)
    return table


def spec_classes(spec: Spec) -> int | None:
    """Classes of a categorical loss when the spec's layers fix them, else None."""
    if isinstance(spec.forward, LayerStack) and spec.forward.output_shape:
        last = spec.forward.output_shape[-1]
        return int(last) if last is not None else None
    return None


def check(table: Table, classes: int | None, labels_only: bool = False) -> None:
    """Raise DataError naming, per input, the first row whose values misfit the spec.

    Float values must be finite; integer values must fit the dtype, ids under
    an embedding its rows, and labels the loss: class ids in [0, classes) for
    sparse categorical crossentropy, values in [0, 1] for the binary and
    categorical ones. `classes` None skips the class-id check (`labels_only`
    then runs it alone, once the model told the classes).
    """
    spec = table.spec
    problems = []
    for item in spec.inputs:
        is_label = item.name == spec.label
        if labels_only and not is_label:
            continue
        low, high, what = _bounds(spec, item, classes)
        if labels_only and low is None:
            continue
        for start, rows in table.chunks(item.name):
            bad, reason = _first_bad(rows, item, low, high, what, labels_only)
            if bad is not None:
                row, value = start + bad[0], rows[bad]
                column = table.column(item.name, int(bad[1]))
                problems.append(
                    f"{table.where(row)} {column}: {reason}, found {_show(value)}"
                )
                break
    if problems:
        raise DataError(problems)


def _bounds(spec: Spec, item: Input, classes: int | None):
    """(low, high, description) for an input's values, or (None, None, None)."""
    kind = spec.loss.kind
    if item.name == spec.label:
        if kind == "sparse_categorical_crossentropy" and classes is not None:
            return 0, classes - 1, f"a class id in [0, {classes - 1}]"
        if kind in ("binary_crossentropy", "categorical_crossentropy"):
            return 0, 1, f"a value in [0, 1] for {kind}"
    if item.dtype in INT_DTYPES:
        rows = embedding_rows(spec, item)
        if rows is not None:
            return 0, rows - 1, f"an id in [0, {rows - 1}] (rows of the embedding)"
        info = np.iinfo(item.dtype)
        return int(info.min), int(info.max), f"a value that fits {item.dtype}"
    return None, None, None


def _first_bad(rows, item: Input, low, high, what, labels_only: bool):
    """((row, column), reason) of the first bad value in a chunk, or (None, None)."""
    if item.dtype in FLOAT_DTYPES and not labels_only:
        if rows.dtype.kind == "f":
            finite = np.isfinite(rows)
            if not finite.all():
                bad = tuple(np.argwhere(~finite)[0])
                return bad, "expected finite values"
        largest = float(np.finfo(item.dtype).max)
        if rows.dtype.kind in "fiu" and (
            rows.dtype.kind != "f" or np.finfo(rows.dtype).max > largest
        ):
            wrong = np.abs(rows.astype(np.float64)) > largest
            if wrong.any():
                return (
                    tuple(np.argwhere(wrong)[0]),
                    f"expected values that fit {item.dtype} (at most {largest:.6g} "
                    "in magnitude)",
                )
    if low is not None:
        wrong = (rows < low) | (rows > high)
        if wrong.any():
            return tuple(np.argwhere(wrong)[0]), f"expected {what}"
    return None, None


def _show(value) -> str:
    number = value.item() if hasattr(value, "item") else value
    return repr(number)


def split_clients(
    ids: list[str], fraction: float, seed: int, flag: str = "--eval-fraction"
) -> tuple[list[str], list[str]]:
    """(train, held out): `max(1, round(fraction * len(ids)))` clients held out, seeded."""
    held = max(1, round(fraction * len(ids)))
    if len(ids) - held < 1:
        raise UsageError(
            f"{flag} {fraction}: the data has {len(ids)} client(s); holding out {held} "
            "leaves none to train on (use --eval-data, or more clients)"
        )
    order = np.random.default_rng(seed).permutation(len(ids))
    chosen = set(order[:held].tolist())
    train = [cid for i, cid in enumerate(ids) if i not in chosen]
    evaluation = [cid for i, cid in enumerate(ids) if i in chosen]
    return train, evaluation


__all__ = [
    "CLIENT_COLUMN",
    "DataError",
    "Source",
    "Table",
    "check",
    "embedding_rows",
    "import_function",
    "load_table",
    "parse_source",
    "spec_classes",
    "split_clients",
]
