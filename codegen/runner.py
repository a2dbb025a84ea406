"""`wrapgen run`: generate or load a module, train it with FedAvg on real or synthetic data, report.

TensorFlow is imported only once the spec or module has been checked, and
every TFF worker process is stopped before this returns: on success, on an
error and on Ctrl-C.
"""

from __future__ import annotations

import json
import logging
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

from codegen.console import escape, say
from codegen.errors import FindingsError, UsageError, WrapgenError
from codegen.load import load_spec
from codegen.pipeline import Generated, generate
from codegen.spec import Spec
from codegen.tflog import quiet_tensorflow
from codegen.validate import validate
from codegen.verify import verify_file

DATA_KINDS = ("digits", "synthetic")
INTERRUPTED = 130


@dataclass(frozen=True)
class RunOptions:
    data: str = "digits"
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
    if options.data not in DATA_KINDS:
        raise UsageError(
            f"--data: expected one of {', '.join(DATA_KINDS)}, found {options.data!r}"
        )
    if options.workers < 1:
        raise UsageError(f"--workers: expected at least 1, found {options.workers}")
    if options.worker_addresses and options.workers != 1:
        raise UsageError("--workers and --worker-address exclude each other")
    for address in options.worker_addresses:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise UsageError(f"--worker-address: expected host:port, found {address!r}")
    spec, generated, module_path = _prepare(target)
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
            data = _data(train, spec, module, options)
            train.use_workers(options.workers, options.worker_addresses)
            err.print(
                f"[bold]{escape(spec.name)}[/bold]: FedAvg, {options.rounds} rounds x "
                f"{min(options.clients, len(data.train))} clients on "
                f"{len(options.worker_addresses) or options.workers} worker(s); "
                f"{escape(data.description)}",
                soft_wrap=True,
            )
            result = _train(train, module, data, options, err)
        result.timings["generate_s"] = generated_s
        result.timings["wall_s"] = time.perf_counter() - started
        _report(spec, target, data.description, options, result, err)
        return 0
    except KeyboardInterrupt:
        say(err, "interrupted: stopping the TFF workers")
        return INTERRUPTED
    except WrapgenError:
        raise
    except Exception as exc:  # noqa: BLE001 - the model or data failed in TFF: say so, no traceback
        say(err, f"{target}: training failed: {failure_summary(exc)}")
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


def _data(train, spec: Spec, module, options: RunOptions):
    from codegen import datasets

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


def _train(train, module, data, options: RunOptions, err: Console):
    if not err.is_terminal:

        def plain(number, metrics, evaluated):
            line = f"round {number}/{options.rounds}: train {_format(metrics)}"
            if evaluated is not None:
                line += f"; eval {_format(evaluated)}"
            say(err, line)

        return train.train_and_evaluate(
            module,
            data,
            options.rounds,
            options.clients,
            options.seed,
            options.eval_every,
            plain,
        )
    columns = (
        TextColumn("round"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[metrics]}", markup=False),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task(
            "train", total=options.rounds, metrics="building FedAvg"
        )

        def update(number, metrics, evaluated):
            text = f"train {_format(metrics)}"
            if evaluated is not None:
                text += f" | eval {_format(evaluated)}"
            progress.update(task, completed=number, metrics=text)

        return train.train_and_evaluate(
            module,
            data,
            options.rounds,
            options.clients,
            options.seed,
            options.eval_every,
            update,
        )


def _report(
    spec: Spec, target: Path, description: str, options: RunOptions, result, err
) -> None:
    table = Table(title=f"{escape(spec.name)}: metrics per round")
    names = list(result.train[-1]) if result.train else []
    eval_by_round = {row["round"]: row for row in result.eval}
    table.add_column("round", justify="right")
    for name in names:
        table.add_column(f"train {escape(name)}", justify="right")
    eval_names = [n for n in (result.eval[-1] if result.eval else {}) if n != "round"]
    for name in eval_names:
        table.add_column(f"eval {escape(name)}", justify="right")
    for number, metrics in enumerate(result.train, start=1):
        evaluated = eval_by_round.get(number, {})
        table.add_row(
            str(number),
            *(f"{metrics[n]:.4g}" for n in names),
            *(f"{evaluated[n]:.4g}" if n in evaluated else "" for n in eval_names),
        )
    err.print(table)
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
