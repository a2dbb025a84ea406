"""`wrapgen run`: generate or load a module, train it with FedAvg on real or synthetic data, report.

TensorFlow is imported only once the spec or module has been checked, and
every TFF worker process is stopped before this returns: on success, on an
error and on Ctrl-C.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from codegen import userdata
from codegen.console import escape, say
from codegen.errors import FindingsError, UsageError, WrapgenError, printable
from codegen.load import load_spec
from codegen.pipeline import Generated, generate
from codegen.spec import Spec
from codegen.tflog import quiet_tensorflow
from codegen.validate import validate
from codegen.verify import verify_file

DATA_KINDS = ("digits", "synthetic")
INTERRUPTED = 130
SERVER_LEARNING_RATES = {
    "sgd": 1.0,
    "sgdm": 1.0,
    "adam": 0.01,
    "adagrad": 0.1,
    "yogi": 0.01,
}
"""`--server-optimizer` choices (TFF's `tff.learning.optimizers`) and their default rates;
sgdm has momentum 0.9, the others TFF's defaults."""
EVAL_FRACTION = 0.2
"""Share of a user's clients held out for evaluation when there is no `--eval-data`."""


@dataclass(frozen=True)
class RunOptions:
    data: str = "digits"
    eval_data: str | None = None
    eval_fraction: float | None = None
    batch_size: int = 32
    local_epochs: int = 1
    shuffle_buffer: int = 1000
    server_optimizer: str = "sgd"
    server_learning_rate: float | None = None
    client_learning_rate: float | None = None
    rounds: int = 20
    clients: int = 10
    data_clients: int = 20
    skew: float = 0.5
    examples: int = 256
    seed: int = 0
    workers: int = 1
    worker_addresses: tuple[str, ...] = ()
    eval_every: int = 1
    plot: Path | None = None
    json: bool = False


def run(target: Path, options: RunOptions, err: Console) -> int:
    """Run everything; return the exit code. Prints progress to `err`, JSON to stdout."""
    started = time.perf_counter()
    source, eval_source = _check_options(options)
    if options.workers < 1:
        raise UsageError(f"--workers: expected at least 1, found {options.workers}")
    if options.worker_addresses and options.workers != 1:
        raise UsageError("--workers and --worker-address exclude each other")
    for address in options.worker_addresses:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise UsageError(f"--worker-address: expected host:port, found {address!r}")
    spec, generated, module_path = _prepare(target)
    if source.kind == "digits":
        from codegen import datasets

        datasets.check_digits(spec)
    # The user's tables are read and checked before TensorFlow is imported.
    classes = userdata.spec_classes(spec)
    tables = {
        role: userdata.load_table(item, spec, classes)
        for role, item in (("train", source), ("eval", eval_source))
        if item is not None and item.is_table
    }
    if (
        "train" in tables and eval_source is None
    ):  # a fraction that leaves none to train
        userdata.split_clients(
            tables["train"].ids, _eval_fraction(options), options.seed
        )
    generated_s = time.perf_counter() - started
    quiet_tensorflow()
    _drop_unretrieved_task_errors()
    from codegen import train  # imports TensorFlow and TFF: only past this point

    try:
        with tempfile.TemporaryDirectory(prefix="wrapgen-run-") as folder:
            module = (
                train.import_module_file(module_path)
                if module_path is not None
                else train.import_generated(generated, Path(folder))
            )
            if classes is None and tables:  # a Keras builder: the model tells them
                for table in tables.values():
                    userdata.check(table, _last_width(train, module), labels_only=True)
            data = _data(train, spec, module, options, source, eval_source, tables)
            train.use_workers(options.workers, options.worker_addresses)
            settings = _settings(spec, module, options, data)
            err.print(
                f"[bold]{escape(spec.name)}[/bold]: FedAvg, {options.rounds} rounds x "
                f"{min(options.clients, len(data.train))} clients on "
                f"{len(options.worker_addresses) or options.workers} worker(s); "
                f"{escape(_settings_line(settings))}; "
                f"{escape(printable(data.description))}",
                soft_wrap=True,
            )
            result = _train(train, module, data, options, err)
        result.timings["generate_s"] = generated_s
        result.timings["wall_s"] = time.perf_counter() - started
        _report(spec, target, data.description, options, settings, result, err)
        return 0
    except KeyboardInterrupt:
        say(err, "interrupted: stopping the TFF workers")
        return INTERRUPTED
    except WrapgenError:
        raise
    except Exception as exc:  # noqa: BLE001 - the model or data failed in TFF: say so, no traceback
        say(err, printable(f"{target}: training failed: {failure_summary(exc)}"))
        return 1
    finally:
        train.shutdown()


def _prepare(target: Path) -> tuple[Spec, Generated | None, Path | None]:
    """The spec, and the verified generation (from a spec) or module path (a generated module)."""
    if target.suffix == ".py":
        from codegen.targets import resolve_targets

        # The header's spec is read only inside the project, and only if it is a spec.
        (resolved,) = resolve_targets([target])
        findings = verify_file(target)
        if findings:
            raise FindingsError("\n".join(str(f) for f in findings))
        spec = validate(load_spec(resolved.spec))
        return spec, None, target
    generated = generate(target)
    return generated.spec, generated, None


def _check_options(
    options: RunOptions,
) -> tuple[userdata.Source, userdata.Source | None]:
    """The data sources; a UsageError for a knob out of range (before any work)."""
    source = userdata.parse_source(options.data)
    eval_source = (
        userdata.parse_source(options.eval_data, "--eval-data")
        if options.eval_data is not None
        else None
    )
    built_in = source.kind in DATA_KINDS
    if built_in and (eval_source is not None or options.eval_fraction is not None):
        raise UsageError(
            f"--eval-data and --eval-fraction: for your own --data (PATH.npz, PATH.csv "
            f"or MODULE:FUNCTION); --data {source.kind} holds out its own clients"
        )
    if eval_source is not None and options.eval_fraction is not None:
        raise UsageError("--eval-data and --eval-fraction exclude each other")
    if options.eval_fraction is not None and not 0 < options.eval_fraction < 1:
        raise UsageError(
            f"--eval-fraction: expected a number between 0 and 1, found "
            f"{options.eval_fraction}"
        )
    for flag, value, least in (
        ("--batch-size", options.batch_size, 1),
        ("--local-epochs", options.local_epochs, 1),
        ("--shuffle-buffer", options.shuffle_buffer, 0),
    ):
        if value < least:
            raise UsageError(f"{flag}: expected at least {least}, found {value}")
    if options.server_optimizer not in SERVER_LEARNING_RATES:
        raise UsageError(
            f"--server-optimizer: expected one of {', '.join(SERVER_LEARNING_RATES)}, "
            f"found {options.server_optimizer!r}"
        )
    for flag, rate in (
        ("--server-learning-rate", options.server_learning_rate),
        ("--client-learning-rate", options.client_learning_rate),
    ):
        if rate is not None and not (rate > 0 and math.isfinite(rate)):
            raise UsageError(f"{flag}: expected a positive number, found {rate}")
    return source, eval_source


def _last_width(train, module) -> int:
    """The size of the model's last output dimension (classes of a categorical model)."""
    import tensorflow as tf

    model = module.model_fn()
    features = tf.nest.map_structure(
        lambda spec: tf.zeros([1, *spec.shape[1:]], spec.dtype), module.INPUT_SPEC["x"]
    )
    return int(model.predict_on_batch(features, training=False).shape[-1])


def _settings(spec: Spec, module, options: RunOptions, data) -> dict:
    """The training settings of the run, defaults included (header line and JSON)."""
    client_rate = options.client_learning_rate
    return {
        "batch_size": options.batch_size,
        "local_epochs": options.local_epochs,
        "shuffle_buffer": options.shuffle_buffer,
        "client_optimizer": spec.optimizer.kind,
        "client_learning_rate": float(client_rate)
        if client_rate is not None
        else getattr(module, "LEARNING_RATE", None),
        "client_learning_rate_from": "spec"
        if client_rate is None
        else "--client-learning-rate",
        "server_optimizer": options.server_optimizer,
        "server_learning_rate": _server_rate(options),
        "eval_every": options.eval_every,
        "seed": options.seed,
        "train_clients": len(data.train),
        "eval_clients": len(data.eval),
    }


def _server_rate(options: RunOptions) -> float:
    if options.server_learning_rate is not None:
        return float(options.server_learning_rate)
    return SERVER_LEARNING_RATES[options.server_optimizer]


def _settings_line(settings: dict) -> str:
    epochs = settings["local_epochs"]
    return (
        f"batch {settings['batch_size']}, {epochs} local epoch{'s' * (epochs != 1)}, "
        f"shuffle buffer {settings['shuffle_buffer']}; client "
        f"{settings['client_optimizer']} lr {settings['client_learning_rate']} "
        f"({settings['client_learning_rate_from'].lstrip('-')}), server "
        f"{settings['server_optimizer']} lr {settings['server_learning_rate']:g}"
    )


def _data(
    train,
    spec: Spec,
    module,
    options: RunOptions,
    source: userdata.Source,
    eval_source: userdata.Source | None,
    tables: dict,
):
    from codegen import datasets

    if source.kind not in DATA_KINDS:
        return _user_data(spec, options, source, eval_source, tables)
    if options.data == "digits":
        data = datasets.digits(spec, options.data_clients, options.skew, options.seed)
        width = train.output_width(module)
        if width < datasets.DIGIT_CLASSES:
            raise UsageError(
                f"--data digits: the model outputs {width} class scores, expected at least "
                f"{datasets.DIGIT_CLASSES}"
            )
        return data
    return datasets.synthetic(
        spec,
        options.data_clients,
        options.examples,
        options.seed,
        train.output_width(module),
    )


def _eval_fraction(options: RunOptions) -> float:
    return options.eval_fraction if options.eval_fraction is not None else EVAL_FRACTION


def _user_data(
    spec: Spec,
    options: RunOptions,
    source: userdata.Source,
    eval_source: userdata.Source | None,
    tables: dict,
):
    """`FederatedData` of the user's tables or ClientData function, clients held out or not."""
    from codegen.datasets import ArrayClients, FederatedData

    def clients(item: userdata.Source, role: str):
        if item.is_table:
            return ArrayClients.from_table(tables[role])
        from codegen import clientdata

        return clientdata.from_user(userdata.import_function(item), spec, item)

    def subset(all_clients, ids):
        if isinstance(all_clients, ArrayClients):
            return ArrayClients(ids, all_clients.examples)
        return all_clients.subset(ids)

    train_clients = clients(source, "train")
    examples = f", {tables['train'].rows:,} examples" if "train" in tables else ""
    description = f"{source.text}: {len(train_clients):,} clients{examples}"
    if eval_source is not None:
        eval_clients = clients(eval_source, "eval")
        eval_examples = (
            f", {tables['eval'].rows:,} examples" if "eval" in tables else ""
        )
        description += f"; eval on {eval_source.text}: {len(eval_clients):,} clients{eval_examples}"
    else:
        fraction = _eval_fraction(options)
        train_ids, eval_ids = userdata.split_clients(
            train_clients.ids, fraction, options.seed
        )
        eval_clients = subset(train_clients, eval_ids)
        train_clients = subset(train_clients, train_ids)
        description += f"; {len(eval_ids):,} clients held out for eval (--eval-fraction {fraction:g})"
    return FederatedData(train_clients, eval_clients, description)


def _train(train, module, data, options: RunOptions, err: Console):
    def run_rounds(on_round):
        return train.train_and_evaluate(
            module,
            data,
            options.rounds,
            options.clients,
            options.seed,
            options.eval_every,
            on_round,
            local=train.Local(
                options.batch_size, options.local_epochs, options.shuffle_buffer
            ),
            server_optimizer=options.server_optimizer,
            server_learning_rate=_server_rate(options),
            client_learning_rate=options.client_learning_rate,
        )

    if not err.is_terminal:

        def plain(number, metrics, evaluated):
            line = f"round {number}/{options.rounds}: train {_format(metrics)}"
            if evaluated is not None:
                line += f"; eval {_format(evaluated)}"
            say(err, line)

        return run_rounds(plain)
    columns = (
        TextColumn("round"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[metrics]}", markup=False),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task(
            "train", total=options.rounds, metrics="building FedAvg"
        )

        def update(number, metrics, evaluated):
            # The bar shows the loss (and an accuracy); the table and --json have all.
            text = f"train {_format(_headline(metrics))}"
            if evaluated is not None:
                text += f" | eval {_format(_headline(evaluated))}"
            progress.update(task, completed=number, metrics=text)

        return run_rounds(update)


def _headline(metrics: dict) -> dict:
    """The loss and the first accuracy-like metric, for a progress line that fits."""
    keep = ["loss"] + [n for n in metrics if "accuracy" in n][:1]
    return {n: metrics[n] for n in keep if n in metrics} or dict(
        list(metrics.items())[:1]
    )


def metrics_table(title: str, train_rows: list[dict], eval_rows: list[dict]) -> Table:
    """One row per metric: its train value in the first and last round, and its eval
    value in the first and last evaluation. Names fold rather than being cut, values
    never shrink: the table fits an 80-column terminal with any number of metrics.
    """
    names = list(
        dict.fromkeys(
            [
                *(train_rows[-1] if train_rows else {}),
                *(eval_rows[-1] if eval_rows else {}),
            ]
        )
    )
    names = [n for n in names if n != "round"]
    columns: list[tuple[str, dict]] = []
    if train_rows:
        picks = [1, len(train_rows)] if len(train_rows) > 1 else [1]
        columns += [(f"train r{n}", train_rows[n - 1]) for n in picks]
    if eval_rows:
        picks = [eval_rows[0], eval_rows[-1]] if len(eval_rows) > 1 else eval_rows[:1]
        columns += [(f"eval r{row['round']}", row) for row in picks]
    cells = [[f"{row[n]:.4g}" if n in row else "" for _, row in columns] for n in names]
    table = Table(title=title, title_justify="left")
    table.add_column("metric", overflow="fold", min_width=6)
    for index, (header, _) in enumerate(columns):
        width = max([len(header)] + [len(row[index]) for row in cells])
        table.add_column(header, justify="right", no_wrap=True, min_width=width)
    for name, row in zip(names, cells):
        table.add_row(escape(name), *row)
    return table


def _report(
    spec: Spec,
    target: Path,
    description: str,
    options: RunOptions,
    settings: dict,
    result,
    err,
) -> None:
    err.print(
        metrics_table(
            f"{escape(spec.name)}: metrics per round (first and last; all in --json)",
            result.train,
            result.eval,
        )
    )
    timings = result.timings
    say(
        err,
        f"build {timings['build_s']:.1f} s, median round {timings['median_round_s'] * 1000:.0f} ms, "
        f"wall {timings['wall_s']:.1f} s",
    )
    if options.plot is not None:
        _plot(spec, result, options.plot)
        say(err, f"wrote: {options.plot}")
    if options.json:
        final_eval = {k: v for k, v in result.eval[-1].items() if k != "round"}
        summary = {
            "spec": spec.name,
            "target": str(target),
            "data": description,
            "data_source": options.data,
            "eval_data_source": options.eval_data,
            "settings": settings,
            "rounds": options.rounds,
            "clients_per_round": options.clients,
            "workers": len(options.worker_addresses) or options.workers,
            "worker_addresses": list(options.worker_addresses),
            "train": result.train[-1],
            "eval": final_eval,
            "history": {"train": result.train, "eval": result.eval},
            "timings": timings,
        }
        sys.stdout.write(json.dumps(summary, sort_keys=True) + "\n")


def _plot(spec: Spec, result, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rounds = list(range(1, len(result.train) + 1))
    accuracy = next((n for n in result.train[-1] if "accuracy" in n), None)
    figure, axes = plt.subplots(
        1, 2 if accuracy else 1, figsize=(10 if accuracy else 5, 4)
    )
    axes = list(axes) if accuracy else [axes]
    axes[0].plot(rounds, [m["loss"] for m in result.train], label="train loss")
    eval_rounds = [row["round"] for row in result.eval]
    if all("loss" in row for row in result.eval):
        axes[0].plot(
            eval_rounds, [row["loss"] for row in result.eval], label="eval loss"
        )
    axes[0].set_xlabel("round")
    axes[0].legend()
    if accuracy:
        axes[1].plot(
            rounds, [m[accuracy] for m in result.train], label=f"train {accuracy}"
        )
        axes[1].plot(
            eval_rounds,
            [row[accuracy] for row in result.eval],
            label=f"eval {accuracy}",
        )
        axes[1].set_xlabel("round")
        axes[1].set_ylim(0, 1)
        axes[1].legend()
    from matplotlib.ticker import MaxNLocator

    for axis in axes:
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.suptitle(f"{spec.name}: FedAvg")
    figure.tight_layout()
    try:
        figure.savefig(path, format="png")
    except OSError as exc:
        raise UsageError(
            f"--plot {path}: cannot write: {exc.strerror or exc}"
        ) from None
    finally:
        plt.close(figure)


def _format(metrics: dict) -> str:
    return ", ".join(f"{name} {value:.4g}" for name, value in metrics.items())


# A failed tf.debugging.assert_*: `assertion failed: [MESSAGE] [Condition ...] ...`.
_ASSERTION = re.compile(r"assertion failed: *\[([^\]\n]+)\]")


def failure_summary(exc: BaseException) -> str:
    """One line for a training error: its type and first line, and the user's assertion message.

    TFF's C++ executor raises a `grpc.RpcError` (`_InactiveRpcError`, status
    INTERNAL) whose details start `Failed to run computation: assertion
    failed: [MESSAGE] [Condition x <= y did not hold element-wise:] ...`; the
    first line is kept whole. When the message of a failed
    `tf.debugging.assert_*` only appears further down (a later line, or a
    chained exception), it is added to the line.
    """
    texts = [_error_text(error) for error in _chain(exc)]
    lines = [line.strip() for line in texts[0].splitlines() if line.strip()]
    summary = type(exc).__name__ + (f": {lines[0]}" if lines else "")
    messages = [m for text in texts for m in _ASSERTION.findall(text)]
    for message in dict.fromkeys(messages):
        if message not in summary:
            summary += f" (assertion failed: {message})"
    return summary


def _error_text(exc: BaseException) -> str:
    """The error's message; for an error from a TFF worker (grpc), the worker's own details."""
    details = getattr(exc, "details", None)
    try:
        text = details() if callable(details) else None
    except Exception:  # noqa: BLE001 - a details() that fails: fall back to str()
        text = None
    return str(text or exc)


def _chain(exc: BaseException, limit: int = 8) -> list[BaseException]:
    """`exc` and the exceptions it was raised from or while handling, first to last."""
    chain = [exc]
    while len(chain) < limit:
        cause = chain[-1].__cause__ or chain[-1].__context__
        if cause is None or cause in chain:
            break
        chain.append(cause)
    return chain


class _UnretrievedTaskErrors(logging.Filter):
    """Drops asyncio's `Task exception was never retrieved` reports (with their tracebacks).

    With several workers, TFF runs each sub-round as an asyncio task; when
    one fails, the context raises its error (reported as one line) and the
    other sub-rounds' copies of it are logged when their tasks are collected.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Task exception was never retrieved")


def _drop_unretrieved_task_errors() -> None:
    """Install `_UnretrievedTaskErrors` on asyncio's logger (once)."""
    logger = logging.getLogger("asyncio")
    if not any(isinstance(f, _UnretrievedTaskErrors) for f in logger.filters):
        logger.addFilter(_UnretrievedTaskErrors())
