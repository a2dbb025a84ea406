"""Training generated models with TensorFlow Federated (the `wrapgen run` runtime).

This is the only module of the package that imports TensorFlow; generation
never loads it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_federated as tff  # noqa: E402

from codegen.datasets import FederatedData  # noqa: E402
from codegen.errors import UsageError  # noqa: E402
from codegen.pipeline import Generated  # noqa: E402
from codegen.workers import stop_tff_workers  # noqa: E402


def import_module_file(path: Path, name: str | None = None) -> ModuleType:
    """Import the Python file at `path` as a fresh module; its folder joins sys.path."""
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module_name = name or f"_wrapgen_{path.stem}_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def import_generated(generated: Generated, folder: Path) -> ModuleType:
    """Write a generated module into `folder` and import it (its spec's folder joins sys.path)."""
    spec_folder = str(generated.spec_path.resolve().parent)
    if spec_folder not in sys.path:
        sys.path.insert(0, spec_folder)
    path = folder / f"{generated.spec_path.stem}.py"
    path.write_text(generated.text, "utf-8")
    return import_module_file(path)


def output_width(module: ModuleType) -> int:
    """The width of the model's predictions, from one batch of zeros."""
    model = module.model_fn()
    features = tf.nest.map_structure(
        lambda spec: tf.zeros([1, *spec.shape[1:]], spec.dtype), module.INPUT_SPEC["x"]
    )
    predictions = model.predict_on_batch(features, training=False)
    return int(np.prod(predictions.shape[1:]))


def to_datasets(clients: list, batch_size: int = 32) -> list[tf.data.Dataset]:
    """One batched `tf.data.Dataset` per client."""
    return [
        tf.data.Dataset.from_tensor_slices(client).batch(batch_size)
        for client in clients
    ]


def build_fed_avg(module: ModuleType) -> tff.templates.IterativeProcess:
    """Weighted FedAvg with the module's client optimizer and metrics aggregator."""
    return tff.learning.algorithms.build_weighted_fed_avg(
        module.model_fn,
        client_optimizer_fn=module.client_optimizer(),
        server_optimizer_fn=tff.learning.optimizers.build_sgdm(learning_rate=1.0),
        metrics_aggregator=module.metrics_aggregator,
    )


@dataclass
class RunResult:
    """Metrics per round, the final evaluation, and where the time went (seconds)."""

    train: list[dict] = field(default_factory=list)
    eval: list[dict] = field(default_factory=list)
    timings: dict = field(default_factory=dict)


def use_workers(workers: int, addresses: Sequence[str] = ()) -> None:
    """Run TFF computations on `workers` local C++ workers, or on running remote workers.

    One local worker is TFF's default C++ context. Several workers (local, or
    the TFF C++ `worker_binary` servers at `addresses`, as `host:port`) are
    TFF's mergeable-computation context over one asynchronous context per
    worker: each round's clients are split into sub-rounds that run on
    separate workers, and their results are merged. Remote workers are not
    started or stopped here.
    """
    if addresses:
        contexts = [_remote_context(address) for address in addresses]
        if len(contexts) == 1:
            tff.framework.set_default_context(_remote_context(addresses[0], sync=True))
        else:
            tff.backends.native.set_mergeable_comp_execution_context(contexts)
    elif workers > 1:
        tff.backends.native.set_mergeable_comp_execution_context(
            [
                tff.backends.native.create_async_local_cpp_execution_context()
                for _ in range(workers)
            ]
        )
    else:
        tff.backends.native.set_sync_local_cpp_execution_context()


_MAX_MESSAGE = 2**31 - 1
_CHANNEL_OPTIONS = [
    ("grpc.max_message_length", _MAX_MESSAGE),
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
    ("grpc.max_send_message_length", _MAX_MESSAGE),
]


def _remote_context(address: str, sync: bool = False, wait_s: float = 10.0):
    """A TFF execution context for the C++ worker serving at `address`, from TFF's parts."""
    import grpc

    channel = grpc.insecure_channel(address, _CHANNEL_OPTIONS)
    stub = tff.framework.RemoteExecutorGrpcStub(channel)
    deadline = time.monotonic() + wait_s
    while not stub.is_ready:
        if time.monotonic() > deadline:
            raise UsageError(
                f"--worker-address {address}: no TFF worker answered within {wait_s:.0f} s"
            )
        time.sleep(0.1)

    def stack_fn(cardinalities):
        cardinalities.setdefault(tff.CLIENTS, 0)
        executor = tff.framework.RemoteExecutor(stub)
        executor.set_cardinalities(cardinalities)
        return executor

    context_class = (
        tff.framework.SyncExecutionContext
        if sync
        else tff.framework.AsyncExecutionContext
    )
    return context_class(
        executor_fn=tff.framework.ResourceManagingExecutorFactory(
            executor_stack_fn=stack_fn
        ),
        compiler_fn=tff.backends.native.desugar_and_transform_to_native,
        transform_args=tff.tensorflow.transform_args,
        transform_result=tff.tensorflow.transform_result,
    )


def train_and_evaluate(
    module: ModuleType,
    data: FederatedData,
    rounds: int,
    clients_per_round: int,
    seed: int,
    eval_every: int = 1,
    on_round: Callable[[int, dict, dict | None], None] | None = None,
) -> RunResult:
    """FedAvg for `rounds` rounds over `clients_per_round` sampled clients, with fed_eval.

    Clients are sampled without replacement each round with a seeded RNG, so
    the same arguments give the same rounds. The model is evaluated on the
    held-out clients every `eval_every` rounds and after the last one.
    """
    result = RunResult()
    started = time.perf_counter()
    train_data = to_datasets(data.train)
    eval_data = to_datasets(data.eval)
    process = build_fed_avg(module)
    evaluation = tff.learning.algorithms.build_fed_eval(module.model_fn)
    state = process.initialize()
    eval_state = evaluation.initialize()
    result.timings["build_s"] = time.perf_counter() - started
    rng = np.random.default_rng(seed)
    count = min(clients_per_round, len(train_data))
    round_times, eval_times = [], []
    for number in range(1, rounds + 1):
        chosen = sorted(rng.choice(len(train_data), count, replace=False))
        tick = time.perf_counter()
        output = process.next(state, [train_data[i] for i in chosen])
        round_times.append(time.perf_counter() - tick)
        state = output.state
        metrics = _floats(output.metrics["client_work"]["train"])
        result.train.append(metrics)
        evaluated = None
        if number % eval_every == 0 or number == rounds:
            tick = time.perf_counter()
            eval_state = evaluation.set_model_weights(
                eval_state, process.get_model_weights(state)
            )
            evaluated = _floats(
                evaluation.next(eval_state, eval_data).metrics["client_work"]["eval"][
                    "current_round_metrics"
                ]
            )
            eval_times.append(time.perf_counter() - tick)
            result.eval.append({"round": number, **evaluated})
        if on_round is not None:
            on_round(number, metrics, evaluated)
    result.timings.update(
        rounds_s=sum(round_times),
        median_round_s=float(np.median(round_times)),
        eval_s=sum(eval_times),
        total_s=time.perf_counter() - started,
    )
    return result


def _floats(metrics) -> dict:
    return {name: float(value) for name, value in metrics.items()}


def shutdown() -> None:
    """Stop the TFF workers this process started (see `codegen.workers`)."""
    stop_tff_workers()
