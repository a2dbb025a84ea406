"""`wrapgen run` on the user's own data: npz, CSV, a ClientData function; the knobs; bad data.

The bad-data tests stop before TensorFlow is imported (about a second each);
the training runs use real TFF and check the README's "Train on your own
data" commands, which these constants spell.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLES, ROOT, sigint_default, summary, wrapgen_run

LINEAR = str(EXAMPLES / "linear_regression.yaml")
DIGITS = str(EXAMPLES / "digits_logistic.yaml")
WORDS = str(EXAMPLES / "bag_of_words.yaml")
DATA = EXAMPLES / "data"
CLIENTS_CSV = DATA / "linear_regression_clients.csv"
EVAL_CSV = DATA / "linear_regression_eval.csv"
TEST_DATA = ROOT / "tests" / "data"

# The README's npz example, verbatim (run from the repository's root).
README_NPZ = """\
import numpy as np

t = np.genfromtxt("generated_examples/data/linear_regression_clients.csv",
                  delimiter=",", names=True, dtype=None, encoding="utf-8")
np.savez("clients.npz",
         x=np.stack([t["x_0"], t["x_1"]], axis=1).astype("float32"),
         y=t["y"].astype("float32"),
         client_id=t["client_id"])
"""


def linear_arrays(rows: int = 40, clients: int = 4) -> dict:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, 2)).astype(np.float32)
    return {
        "x": x,
        "y": (x @ [[1.5], [-2.0]]).astype(np.float32),
        "client_id": np.repeat(np.arange(clients), rows // clients),
    }


def digit_arrays(rows: int = 40) -> dict:
    rng = np.random.default_rng(1)
    return {
        "x": rng.random((rows, 64)).astype(np.float32),
        "y": rng.integers(0, 10, rows).astype(np.int32),
        "client_id": np.repeat([f"c{i}" for i in range(4)], rows // 4),
    }


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", "utf-8")
    return path


def linear_csv_rows(count: int = 12) -> list[str]:
    return [f"c{i % 3},{i * 0.1:.1f},{i * 0.2:.1f},{i * 0.3:.1f}" for i in range(count)]


def expect_data_error(result: subprocess.CompletedProcess, lines: list[str]) -> None:
    """Exit 2 with exactly these lines on stderr, nothing on stdout, no traceback."""
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.splitlines() == lines
    assert result.stdout == ""


# --- bad data: one line per problem, exit 2, before TensorFlow ----------------------


def test_bad_npz_arrays_are_named_with_expected_and_found(tmp_path):
    arrays = linear_arrays()
    np.savez(tmp_path / "no_y.npz", x=arrays["x"], client_id=arrays["client_id"])
    np.savez(
        tmp_path / "no_clients.npz",
        x=arrays["x"],
        y=arrays["y"],
    )
    np.savez(tmp_path / "narrow.npz", **{**arrays, "x": arrays["x"][:, :1]})
    np.savez(tmp_path / "text.npz", **{**arrays, "x": arrays["x"].astype(str)})
    np.savez(tmp_path / "short.npz", **{**arrays, "y": arrays["y"][:-1]})
    plot = tmp_path / "curve.png"
    cases = {
        "no_y.npz": [
            "no_y.npz: missing array 'y' (an input); the file has: client_id, x"
        ],
        "no_clients.npz": [
            "no_clients.npz: missing array 'client_id' (the client of each row); "
            "the file has: x, y"
        ],
        "narrow.npz": [
            "narrow.npz: x: expected float32 of shape [N, 2], found shape [40, 1]"
        ],
        "text.npz": [
            "text.npz: x: expected float32 of shape [N, 2] (numbers), found <U32"
        ],
        "short.npz": [
            "short.npz: y: expected 40 rows (one per client_id), found shape [39, 1]"
        ],
    }
    for name, lines in cases.items():
        result = wrapgen_run(LINEAR, "--data", name, "--plot", str(plot), cwd=tmp_path)
        expect_data_error(result, lines)
    assert not plot.exists()


def test_bad_npz_values_name_the_input_row_and_client(tmp_path):
    arrays = digit_arrays()
    arrays["x"][13, 5] = np.inf
    arrays["x"][20, 0] = np.nan
    arrays["y"][7] = 10
    np.savez(tmp_path / "bad.npz", **arrays)
    expect_data_error(
        wrapgen_run(DIGITS, "--data", "bad.npz", cwd=tmp_path),
        [
            "bad.npz: row 13 (client 'c1'): x: expected finite values, found inf",
            "bad.npz: row 7 (client 'c0'): y: expected a class id in [0, 9], found 10",
        ],
    )
    floats = digit_arrays()
    np.savez(tmp_path / "float_labels.npz", **{**floats, "y": floats["y"] * 1.0})
    expect_data_error(
        wrapgen_run(DIGITS, "--data", "float_labels.npz", cwd=tmp_path),
        [
            "float_labels.npz: y: expected int32 of shape [N, 1] (integers), "
            "found float64"
        ],
    )


def test_ids_past_the_embedding_and_labels_outside_0_1_are_refused(tmp_path):
    rng = np.random.default_rng(2)
    tokens = rng.integers(0, 100, (12, 20))
    tokens[5, 3] = 100
    label = rng.integers(0, 2, (12, 1)).astype(np.float32)
    label[9] = 2.0
    np.savez(
        tmp_path / "words.npz", tokens=tokens, label=label, client_id=np.arange(12) % 3
    )
    expect_data_error(
        wrapgen_run(WORDS, "--data", "words.npz", cwd=tmp_path),
        [
            "words.npz: row 5 (client 2): tokens: expected an id in [0, 99] (rows of "
            "the embedding), found 100",
            "words.npz: row 9 (client 0): label: expected a value in [0, 1] for "
            "binary_crossentropy, found 2.0",
        ],
    )


def test_bad_csv_names_the_file_line_and_column(tmp_path):
    header = "client_id,x_0,x_1,y"
    rows = linear_csv_rows()
    cases = {
        "no_column.csv": (
            "client_id,x_0,y",
            rows,
            [
                "no_column.csv:1: missing column(s) x_1 for input 'x': expected x_0 ... x_1"
            ],
        ),
        "no_clients.csv": (
            "x_0,x_1,y",
            [row.split(",", 1)[1] for row in rows],
            ["no_clients.csv:1: missing column 'client_id' (the client of each row)"],
        ),
        "text.csv": (
            header,
            rows[:4] + ["c1,0.5,high,1.0"] + rows[4:],
            ["text.csv:6: x_1: expected a number, found 'high'"],
        ),
        "short_line.csv": (
            header,
            rows[:2] + ["", "c1,0.5"] + rows[2:],
            ["short_line.csv:5: expected 4 fields (as in the header), found 2"],
        ),
        "nan.csv": (
            header,
            rows[:8] + ["c2,nan,0.1,0.2"] + rows[8:],
            ["nan.csv:10: x_0: expected finite values, found nan"],
        ),
        "no_client.csv": (
            header,
            rows[:3] + [",0.5,0.1,0.2"] + rows[3:],
            [
                "no_client.csv:5: client_id: expected a client id, found ''",
            ],
        ),
        "empty.csv": (header, [], ["empty.csv: no examples (0 rows)"]),
    }
    for name, (first, lines, expected) in cases.items():
        write_csv(tmp_path / name, first, lines)
        expect_data_error(wrapgen_run(LINEAR, "--data", name, cwd=tmp_path), expected)
    digits_header = ",".join([f"x_{i}" for i in range(64)] + ["y", "client_id"])
    pixels = ",".join(["0.5"] * 64)
    write_csv(
        tmp_path / "labels.csv",
        digits_header,
        [f"{pixels},3,a", f"{pixels},2.5,a", f"{pixels},11,b"],
    )
    expect_data_error(
        wrapgen_run(DIGITS, "--data", "labels.csv", cwd=tmp_path),
        ["labels.csv:3: y: expected an integer for input 'y' (int32), found 2.5"],
    )


def test_bad_options_are_usage_errors(tmp_path):
    np.savez(tmp_path / "ok.npz", **linear_arrays())
    cases = [
        (
            ["--data", "digits", "--eval-fraction", "0.3"],
            "--eval-data and --eval-fraction: for your own --data (PATH.npz, PATH.csv "
            "or MODULE:FUNCTION); --data digits holds out its own clients",
        ),
        (
            ["--data", "ok.npz", "--eval-fraction", "1.5"],
            "--eval-fraction: expected a number between 0 and 1, found 1.5",
        ),
        (
            ["--data", "ok.npz", "--eval-data", "ok.npz", "--eval-fraction", "0.5"],
            "--eval-data and --eval-fraction exclude each other",
        ),
        (
            ["--data", "ok.npz", "--server-optimizer", "rmsprop"],
            "--server-optimizer: expected one of sgd, sgdm, adam, adagrad, yogi, "
            "found 'rmsprop'",
        ),
        (
            ["--data", "ok.npz", "--server-learning-rate", "-1"],
            "--server-learning-rate: expected a positive number, found -1.0",
        ),
        (
            ["--data", "clients.parquet"],
            "--data clients.parquet: Parquet needs a Parquet reader (pyarrow or "
            "pandas), which is not a wrapgen dependency; write the table as .npz or .csv",
        ),
        (
            ["--data", "clients.json"],
            "--data: expected digits, synthetic, PATH.npz, PATH.csv or "
            "MODULE:FUNCTION, found 'clients.json'",
        ),
        (["--data", "missing.npz"], "--data missing.npz: no such file"),
        (
            ["--data", "ok.npz", "--eval-fraction", "0.9"],
            "--eval-fraction 0.9: the data has 4 client(s); holding out 4 leaves none "
            "to train on (use --eval-data, or more clients)",
        ),
    ]
    for args, line in cases:
        expect_data_error(wrapgen_run(LINEAR, *args, cwd=tmp_path), [line])


# --- the table ----------------------------------------------------------------------


@pytest.mark.parametrize("columns", [80, 100])
def test_metrics_table_fits_the_terminal_and_cuts_nothing(columns):
    from rich.console import Console

    from codegen.runner import metrics_table

    names = [
        "loss",
        "accuracy",
        "worst_client_loss",
        "best_client_loss",
        "largest_client",
        "num_examples",
        "num_batches",
        "recall_at_5_of_the_rarest_tags_averaged_over_the_held_out_clients",
    ]
    train = [
        {n: -123456.789 * r if n == "loss" else 0.68123456 / r for n in names}
        for r in range(1, 21)
    ]
    evaluated = [{"round": r, **train[r - 1]} for r in range(1, 21, 4)]
    stream = io.StringIO()
    Console(file=stream, width=columns, color_system=None).print(
        metrics_table("BagOfWords: metrics per round", train, evaluated)
    )
    text = stream.getvalue()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= columns
    assert "…" not in text
    assert "train r1" in text and "train r20" in text and "eval r17" in text
    cells = " ".join(line.replace("│", " ") for line in lines)
    for value in ("-1.235e+05", "-2.469e+06", "0.6812", "0.03406"):
        assert value in cells
    folded = "".join(
        line.split("│")[1].strip() for line in lines if line.count("│") > 2
    )
    for name in names:
        assert name in folded


# --- training on the user's data (real TFF) -----------------------------------------


@pytest.mark.tff
def test_npz_run_honours_batch_epochs_optimizers_and_holds_out_clients(
    tmp_path, no_new_workers
):
    """The README's npz example with every knob: one run, several checks."""
    (tmp_path / "generated_examples" / "data").mkdir(parents=True)
    (tmp_path / "generated_examples" / "data" / CLIENTS_CSV.name).write_bytes(
        CLIENTS_CSV.read_bytes()
    )
    subprocess.run([sys.executable, "-c", README_NPZ], cwd=tmp_path, check=True)
    plot = tmp_path / "curve.png"
    result = wrapgen_run(
        LINEAR,
        "--data",
        "clients.npz",
        "--eval-fraction",
        "0.3",
        "--batch-size",
        "10",
        "--local-epochs",
        "2",
        "--server-optimizer",
        "adam",
        "--server-learning-rate",
        "0.1",
        "--client-learning-rate",
        "0.02",
        "--rounds",
        "2",
        "--clients",
        "3",
        "--json",
        "--plot",
        str(plot),
        cwd=tmp_path,
    )
    report = summary(result)
    settings = report["settings"]
    assert settings == {
        "batch_size": 10,
        "local_epochs": 2,
        "shuffle_buffer": 1000,
        "client_optimizer": "sgd",
        "client_learning_rate": 0.02,
        "client_learning_rate_from": "--client-learning-rate",
        "server_optimizer": "adam",
        "server_learning_rate": 0.1,
        "eval_every": 1,
        "seed": 0,
        "train_clients": 7,
        "eval_clients": 3,
    }
    header = result.stderr.splitlines()[0]
    assert (
        "batch 10, 2 local epochs, shuffle buffer 1000; client sgd lr 0.02 "
        "(client-learning-rate), server adam lr 0.1; clients.npz: 10 clients, "
        "400 examples; 3 clients held out for eval (--eval-fraction 0.3)"
    ) in header
    # 3 clients x 40 examples x 2 epochs in batches of 10; eval: 3 clients, 1 pass.
    for train in report["history"]["train"]:
        assert train["num_examples"] == 240 and train["num_batches"] == 24
    for evaluated in report["history"]["eval"]:
        assert evaluated["num_examples"] == 120 and evaluated["num_batches"] == 12
    first, last = report["history"]["eval"]
    assert last["loss"] < first["loss"]
    # The table shows what the JSON says.
    rows = {
        line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
        for line in result.stderr.splitlines()
        if line.startswith("│")
    }
    train1, train2 = report["history"]["train"]
    assert rows["loss"] == [
        f"{train1['loss']:.4g}",
        f"{train2['loss']:.4g}",
        f"{first['loss']:.4g}",
        f"{last['loss']:.4g}",
    ]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.tff
def test_csv_run_with_eval_data_learns(no_new_workers):
    """The README's first command: a CSV of clients and a CSV of evaluation clients."""
    report = summary(
        wrapgen_run(
            LINEAR,
            "--data",
            str(CLIENTS_CSV.relative_to(ROOT)),
            "--eval-data",
            str(EVAL_CSV.relative_to(ROOT)),
            "--rounds",
            "5",
            "--clients",
            "5",
            "--json",
        )
    )
    assert report["settings"]["train_clients"] == 10
    assert report["settings"]["eval_clients"] == 3
    assert report["settings"]["batch_size"] == 32
    assert report["settings"]["server_optimizer"] == "sgd"
    assert report["settings"]["server_learning_rate"] == 1.0
    assert report["settings"]["client_learning_rate_from"] == "spec"
    # 5 clients x 40 examples, 2 batches each (32 + 8); eval: 3 x 40 examples.
    assert (
        report["train"]["num_examples"] == 200 and report["train"]["num_batches"] == 10
    )
    assert report["eval"]["num_examples"] == 120
    losses = [row["loss"] for row in report["history"]["eval"]]
    assert losses[-1] < losses[0] / 4, losses


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def run_in_terminal(args: list[str], cwd: Path, columns: int) -> tuple[int, str, str]:
    """Run `wrapgen run ARGS` with stderr on a pseudo-terminal `columns` wide."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "40", "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "codegen", "run", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
        preexec_fn=sigint_default,
    )
    os.close(slave)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        stdout = process.communicate(timeout=900)[0].decode()
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    return process.returncode, stdout, b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.tff
def test_client_data_function_in_an_80_column_terminal(no_new_workers):
    """The README's ClientData example, its table read in an 80-column terminal."""
    code, stdout, terminal = run_in_terminal(
        [
            "../linear_regression.yaml",
            "--data",
            "linear_regression_clients:client_data",
            "--rounds",
            "3",
            "--clients",
            "4",
            "--json",
        ],
        DATA,
        80,
    )
    assert code == 0, terminal[-3000:]
    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["settings"]["train_clients"] == 8  # 10 clients, 2 held out
    assert report["settings"]["eval_clients"] == 2
    assert report["train"]["num_examples"] == 160
    text = _ANSI.sub("", terminal)
    lines = [line for part in text.split("\n") for line in part.split("\r")]
    table = [line for line in lines if line[:1] in "┏┃┡│└"]
    assert len(table) >= 9, text[-3000:]
    assert max(len(line) for line in table) <= 80
    assert "…" not in text
    values = {
        line.split("│")[1].strip(): line.split("│")[-2].strip()
        for line in table
        if line.startswith("│")
    }
    assert values["loss"] == f"{report['eval']['loss']:.4g}"


@pytest.mark.tff
def test_bad_client_data_function_is_one_line(no_new_workers):
    result = wrapgen_run(LINEAR, "--data", "run_clients:empty_client", cwd=TEST_DATA)
    expect_data_error(
        result,
        [
            "--data run_clients:empty_client: client 'c1': no examples (an empty dataset)"
        ],
    )


@pytest.mark.tff
def test_client_data_structures_are_checked_against_the_spec():
    """In-process: what a ClientData function returns, checked without reading an example."""
    sys.path.insert(0, str(TEST_DATA))
    try:
        import run_clients
    finally:
        sys.path.remove(str(TEST_DATA))
    from codegen import clientdata
    from codegen.load import load_spec
    from codegen.userdata import DataError, Source
    from codegen.validate import validate

    spec = validate(load_spec(Path(LINEAR)))

    def problems(name: str) -> list[str]:
        source = Source("function", f"run_clients:{name}")
        with pytest.raises(DataError) as error:
            clientdata.from_user(getattr(run_clients, name)(), spec, source)
        return error.value.lines

    assert problems("not_client_data") == [
        "--data run_clients:not_client_data: expected a tff.simulation.datasets."
        "ClientData or a mapping of client id to tf.data.Dataset, found list"
    ]
    assert problems("wrong_keys") == [
        "--data run_clients:wrong_keys: client 'c0': expected elements with keys x, y "
        "(or x and y, or pairs (features, label)), found a mapping with keys features"
    ]
    assert problems("wrong_shape") == [
        "--data run_clients:wrong_shape: client 'c0': input 'x': expected float32 of "
        "shape [2] per example (or batches of them), found float32 [3]"
    ]
    # Batched (features, label) pairs are unbatched, so that --batch-size applies.
    clients = clientdata.from_user(
        run_clients.mapping(), spec, Source("function", "run_clients:mapping")
    )
    assert clients.ids == [str(i) for i in range(run_clients.CLIENTS)]
    examples = list(clients.dataset("2"))
    assert len(examples) == run_clients.EXAMPLES
    assert examples[0]["x"].shape == (2,) and examples[0]["y"].shape == (1,)
    # TFF's own ClientData: ids kept, each client's dataset made when asked for.
    data = clientdata.from_user(
        run_clients.client_data(), spec, Source("function", "run_clients:client_data")
    )
    assert data.ids[:2] == ["client_0", "client_1"]
    assert len(list(data.dataset("client_3"))) == run_clients.EXAMPLES


def test_table_reads_only_the_sampled_clients_rows(tmp_path):
    """Rows grouped by client once; a client's examples come from its rows only,
    cast to the spec's dtypes, whether its rows are contiguous or not."""
    from codegen import userdata
    from codegen.load import load_spec
    from codegen.validate import validate

    spec = validate(load_spec(Path(DIGITS)))
    arrays = digit_arrays()
    order = np.random.default_rng(3).permutation(40)
    shuffled = {name: value[order] for name, value in arrays.items()}
    shuffled["x"] = shuffled["x"].reshape(40, 64, 1)  # size-1 dimensions may differ
    np.savez(tmp_path / "shuffled.npz", **shuffled)
    table = userdata.load_table(
        userdata.Source("npz", str(tmp_path / "shuffled.npz")), spec, 10
    )
    assert table.ids == list(dict.fromkeys(shuffled["client_id"]))
    client = table.examples("c2")
    rows = shuffled["client_id"] == "c2"
    assert client["x"].shape == (10, 64) and client["x"].dtype == np.float32
    assert client["y"].shape == (10, 1) and client["y"].dtype == np.int32
    np.testing.assert_array_equal(client["x"], shuffled["x"][rows].reshape(10, 64))
    train, held = userdata.split_clients(table.ids, 0.5, seed=0)
    assert len(held) == 2 and sorted(train + held) == sorted(table.ids)
    assert userdata.split_clients(table.ids, 0.5, seed=0) == (train, held)


# --- hostile files: refused quickly, in one line, before TensorFlow ---------------


def load(path: Path, spec_path: str = LINEAR, classes: int | None = None):
    """`userdata.load_table` on a file (in-process: no TensorFlow)."""
    from codegen import userdata
    from codegen.load import load_spec
    from codegen.validate import validate

    spec = validate(load_spec(Path(spec_path)))
    kind = path.suffix[1:]
    return userdata.load_table(userdata.Source(kind, str(path)), spec, classes)


def refusal(path: Path, spec_path: str = LINEAR) -> list[str]:
    from codegen.userdata import DataError, UsageError

    with pytest.raises(UsageError) as error:
        load(path, spec_path)
    lines = (
        error.value.lines
        if isinstance(error.value, DataError)
        else str(error.value).splitlines()
    )
    return [line.replace(f"{path.parent}/", "") for line in lines]


def npz_member(name: str, payload: bytes, compress: int) -> tuple:
    return name + ".npy", payload, compress


def write_zip(path: Path, members: list[tuple]) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        for name, payload, compress in members:
            archive.writestr(name, payload, compress_type=compress)
    return path


def npy(array: np.ndarray) -> bytes:
    stream = io.BytesIO()
    np.save(stream, array, allow_pickle=False)
    return stream.getvalue()


def npy_header(shape: tuple, descr: str = "<f4") -> bytes:
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        stream, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return stream.getvalue()


def test_hostile_npz_members_are_refused_without_reading_them(tmp_path):
    import zipfile

    arrays = linear_arrays()
    stored, deflated = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED
    y = npz_member("y", npy(arrays["y"]), stored)
    ids = npz_member("client_id", npy(arrays["client_id"]), stored)
    x = npy(arrays["x"])
    cases = {
        # A member claiming 1 GiB that deflates from a few bytes: never inflated.
        "bomb.npz": (
            [npz_member("x", npy_header((2**27, 2)) + b"\0" * 64, deflated), y, ids],
            "bomb.npz: x: cannot read it: it expands from",
        ),
        # A .npy header length of 4 GiB: refused before it is read.
        "header.npz": (
            [npz_member("x", b"\x93NUMPY\x02\x00\xf0\xff\xff\xff{", stored), y, ids],
            "header.npz: x: cannot read it: an array header of 4,294,967,280 bytes "
            "(at most 10,000)",
        ),
        # A stored member shorter than its header says: its rows would be read
        # from the next member.
        "cut.npz": (
            [npz_member("x", x[:-100], stored), y, ids],
            "cut.npz: x: cannot read it: its header says 320 bytes of data (float32 "
            "[40, 2]); the member holds 220",
        ),
        # Object arrays are never unpickled, compressed or not.
        "pickled.npz": (
            [
                npz_member("x", x, stored),
                y,
                npz_member(
                    "client_id", npy_header((40,), "|O") + b"\x80\x04N.", deflated
                ),
            ],
            "pickled.npz: client_id: cannot read it: object arrays (pickled) are "
            "not supported",
        ),
        "twice.npz": (
            [npz_member("x", x, stored), npz_member("x", x, stored), y, ids],
            "twice.npz: two arrays named 'x'",
        ),
    }
    for name, (members, line) in cases.items():
        with pytest.warns(UserWarning) if name == "twice.npz" else nullcontext():
            write_zip(tmp_path / name, members)
        (problem,) = refusal(tmp_path / name)
        assert problem.startswith(line), problem
    # Members the spec does not name are not read (an object array among them too).
    extra = write_zip(
        tmp_path / "extra.npz",
        [
            npz_member("x", x, stored),
            y,
            ids,
            npz_member("meta", npy_header((3,), "|O") + b"\x80\x04N.", stored),
        ],
    )
    assert load(extra).ids == ["0", "1", "2", "3"]


def test_ids_and_values_that_do_not_fit_are_refused(tmp_path):
    arrays = linear_arrays()
    empty_ids = np.repeat(np.array(["", "a", "b", "c"]), 10)
    np.savez(tmp_path / "empty.npz", **{**arrays, "client_id": empty_ids})
    long_ids = np.repeat(np.array(["a" * 300, "b", "c", "d"]), 10)
    np.savez(tmp_path / "long.npz", **{**arrays, "client_id": long_ids})
    huge = arrays["x"].astype(np.float64)
    huge[6, 1] = 1e300  # finite in float64, inf once cast to the spec's float32
    np.savez(tmp_path / "huge.npz", **{**arrays, "x": huge})
    assert refusal(tmp_path / "empty.npz") == [
        "empty.npz: row 0 (client ''): client_id: expected a client id, found '' "
        "(and 9 more row(s))"
    ]
    assert refusal(tmp_path / "long.npz") == [
        f"long.npz: row 0 (client '{'a' * 40}...'): client_id: expected an id of at "
        "most 256 characters, found 300"
    ]
    assert refusal(tmp_path / "huge.npz") == [
        "huge.npz: row 6 (client 0): x: expected values that fit float32 (at most "
        "3.40282e+38 in magnitude), found 1e+300"
    ]
    # Byte-string ids (np.savez of bytes) are the text they hold.
    np.savez(
        tmp_path / "bytes.npz",
        **{**arrays, "client_id": np.repeat([b"site_a", b"site_b"], 20)},
    )
    assert load(tmp_path / "bytes.npz").ids == ["site_a", "site_b"]


def test_hostile_csv_lines_are_refused(tmp_path):
    header = "client_id,x_0,x_1,y"
    rows = linear_csv_rows()
    cases = {
        "long_line.csv": (
            rows[:3] + ["c1," + "1" * (10 * 2**20) + ",1,1"],
            "long_line.csv:5: cannot read it: a field longer than 131,072 characters",
        ),
        "extra_field.csv": (
            rows[:6] + ["c1,1,1,1,5", "c1,1,1,1,5"],
            "extra_field.csv:8: expected 4 fields (as in the header), found 5 (and 1 "
            "more line(s) of the wrong length)",
        ),
        "long_id.csv": (
            rows[:2] + ["x" * 5000 + ",1,1,1"],
            "long_id.csv:4: client_id: expected an id of at most 256 characters, "
            "found 5,000",
        ),
    }
    for name, (lines, line) in cases.items():
        write_csv(tmp_path / name, header, lines)
        assert refusal(tmp_path / name) == [line]
    write_csv(tmp_path / "twice.csv", header + ",x_0", [r + ",9" for r in rows])
    assert refusal(tmp_path / "twice.csv") == [
        "twice.csv:1: column 'x_0' appears 2 times (fields 2, 5): expected it once"
    ]
    (tmp_path / "latin.csv").write_bytes(
        ("\n".join([header, *rows[:3], "caf\xe9,1,1,1"]) + "\n").encode("latin-1")
    )
    assert refusal(tmp_path / "latin.csv") == [
        "latin.csv:5: expected UTF-8 text: invalid continuation byte"
    ]


def test_fifos_devices_and_escapes_are_refused_quickly(tmp_path):
    """Through the command line: a FIFO, /dev/zero or a directory named as data
    is refused at once; a client id with terminal escapes prints escaped."""
    os.mkfifo(tmp_path / "fifo.npz")
    os.mkfifo(tmp_path / "fifo.csv")
    (tmp_path / "zero.csv").symlink_to("/dev/zero")
    (tmp_path / "folder.npz").mkdir()
    np.savez(tmp_path / "good.npz", **linear_arrays())
    arrays = linear_arrays()
    arrays["y"][5] = np.nan
    arrays["client_id"] = np.repeat(np.array(["\x1b[31mred", "b", "c", "d"]), 10)
    np.savez(tmp_path / "escape.npz", **arrays)
    cases = [
        (["--data", "fifo.npz"], "--data fifo.npz: is a FIFO, expected a regular file"),
        (
            ["--data", "good.npz", "--eval-data", "fifo.csv"],
            "--eval-data fifo.csv: is a FIFO, expected a regular file",
        ),
        (
            ["--data", "zero.csv"],
            "--data zero.csv: is a character device, expected a regular file",
        ),
        (
            ["--data", "folder.npz"],
            "--data folder.npz: is a directory, expected a regular file",
        ),
        (
            ["--data", "escape.npz"],
            "escape.npz: row 5 (client '\\x1b[31mred'): y: expected finite values, "
            "found nan",
        ),
    ]
    for args, line in cases:
        started = time.monotonic()
        expect_data_error(wrapgen_run(LINEAR, *args, cwd=tmp_path), [line])
        assert time.monotonic() - started < 30


@pytest.mark.tff
def test_server_optimizers_are_tffs_and_the_client_rate_is_used():
    """In-process: each --server-optimizer is built by tff.learning.optimizers;
    --client-learning-rate is the client optimizer's rate in FedAvg's state."""
    import tempfile

    import tensorflow_federated as tff

    from codegen import train
    from codegen.pipeline import generate

    for name, build in train.SERVER_OPTIMIZERS.items():
        optimizer = build(0.5)
        assert isinstance(optimizer, tff.learning.optimizers.Optimizer), name
        assert type(optimizer).__module__.startswith(
            "tensorflow_federated.python.learning.optimizers"
        ), name
    generated = generate(Path(LINEAR))
    with tempfile.TemporaryDirectory() as folder:
        module = train.import_generated(generated, Path(folder))
        # The pytest process's TFF workers are stopped at the end of the session
        # (conftest); stopping them here would break every later in-process TFF test.
        process = train.build_fed_avg(module, "adam", 0.1, 0.5)
        hparams = process.get_hparams(process.initialize())
    assert hparams["client_work"]["learning_rate"] == 0.5
    assert hparams["finalizer"]["learning_rate"] == pytest.approx(0.1)
    assert set(hparams["finalizer"]) == {"learning_rate", "beta_1", "beta_2", "epsilon"}


@pytest.mark.tff
@pytest.mark.slow
def test_seeded_runs_repeat_and_local_epochs_double_the_batches(
    tmp_path, no_new_workers
):
    """Two runs with the same --seed print the same metrics; 2 local epochs of 40
    examples in batches of 32 are 4 batches a client (2 per epoch), not 3. The
    data file's name, with a terminal escape, prints escaped in the header line."""
    arrays = linear_arrays(rows=200, clients=5)
    name = "clients\x1b[2J.npz"
    np.savez(tmp_path / name, **arrays)
    args = [
        "--data",
        name,
        "--eval-fraction",
        "0.2",
        "--local-epochs",
        "2",
        "--rounds",
        "2",
        "--clients",
        "2",
        "--seed",
        "5",
        "--json",
    ]
    first, second = (wrapgen_run(LINEAR, *args, cwd=tmp_path) for _ in range(2))
    one, two = summary(first), summary(second)
    assert one["history"] == two["history"]
    for train in one["history"]["train"]:
        assert train["num_examples"] == 2 * 40 * 2
        assert train["num_batches"] == 2 * 2 * 2
    assert one["settings"]["eval_clients"] == 1  # round(0.2 x 5)
    assert one["eval"]["num_examples"] == 40
    (header,) = [line for line in first.stderr.splitlines() if "FedAvg" in line]
    assert "clients\\x1b[2J.npz: 5 clients" in header, header
    assert "\x1b[2J" not in first.stderr
