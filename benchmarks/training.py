"""Training speed: generated modules against `tff.learning.models.from_keras_model`, and scale.

Each measurement runs in its own process (TFF state and caches do not leak
between them) and the two variants are interleaved. Usage:

    .venv/bin/python benchmarks/training.py compare [RUNS]   # build time and median round
    .venv/bin/python benchmarks/training.py scale            # 1000 clients, 1 and 2 workers

`compare`: 10 clients x 200 examples, 5 rounds, for mnist_logistic (784 -> 10
softmax) and mnist_cnn (normalize, 5x5 conv, max pool, dropout, dense), each
as the generated module and as the same architecture through
from_keras_model. `scale`: one FedAvg round of the generated mnist_logistic
over 1000 clients x 20 synthetic examples.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "generated_examples"


def _child(
    kind: str, name: str, clients: int, examples: int, rounds: int, workers: int
) -> None:
    """One measurement, in this process; prints a JSON line."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import collections

    import numpy as np
    import tensorflow as tf
    import tensorflow_federated as tff

    from codegen import train

    module = train.import_module_file(EXAMPLES / f"{name}.py", f"bench_{name}")
    spec = module.INPUT_SPEC
    rng = np.random.default_rng(0)
    shape = tuple(spec["x"].shape[1:])
    data = [
        tf.data.Dataset.from_tensor_slices(
            collections.OrderedDict(
                x=rng.random((examples, *shape)).astype(np.float32),
                y=rng.integers(0, 10, (examples, 1)).astype(np.int32),
            )
        ).batch(32)
        for _ in range(clients)
    ]
    train.use_workers(workers)
    started = time.perf_counter()
    if kind == "generated":
        process = train.build_fed_avg(module)
    else:
        keras_spec = collections.OrderedDict(x=spec["x"], y=spec["y"])

        def model_fn():
            return tff.learning.models.from_keras_model(
                _keras_model(name),
                input_spec=keras_spec,
                loss=tf.keras.losses.SparseCategoricalCrossentropy(
                    from_logits=name == "mnist_cnn"
                ),
                metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
            )

        process = tff.learning.algorithms.build_weighted_fed_avg(
            model_fn,
            client_optimizer_fn=module.client_optimizer(),
            server_optimizer_fn=tff.learning.optimizers.build_sgdm(learning_rate=1.0),
        )
    state = process.initialize()
    build = time.perf_counter() - started
    times = []
    for _ in range(rounds):
        tick = time.perf_counter()
        state = process.next(state, data).state
        times.append(time.perf_counter() - tick)
    train.shutdown()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "build_s": build,
                "median_round_s": statistics.median(times),
                "peak_mib": peak,
            }
        )
    )


def _keras_model(name: str):
    import tensorflow as tf

    if name == "mnist_logistic":
        inputs = tf.keras.Input(shape=(784,), dtype=tf.float32)
        outputs = tf.keras.layers.Dense(
            10, activation="softmax", kernel_initializer="zeros"
        )(inputs)
        return tf.keras.Model(inputs, outputs)
    inputs = tf.keras.Input(shape=(28, 28, 1), dtype=tf.float32)
    x = tf.keras.layers.Rescaling(1 / 0.3081, offset=-0.1307 / 0.3081)(inputs)
    x = tf.keras.layers.Conv2D(8, 5, padding="same", activation="relu")(x)
    x = tf.keras.layers.MaxPool2D(2)(x)
    x = tf.keras.layers.Flatten()(x)
    x = tf.keras.layers.Dropout(0.25)(x)
    outputs = tf.keras.layers.Dense(10)(x)
    return tf.keras.Model(inputs, outputs)


def _measure(*args: str) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "child", *args],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def compare(runs: int) -> None:
    for name in ("mnist_logistic", "mnist_cnn"):
        rows: dict[str, list[dict]] = {"generated": [], "keras": []}
        for _ in range(runs):
            for kind in rows:
                rows[kind].append(_measure(kind, name, "10", "200", "5", "1"))
        build = {k: statistics.median(r["build_s"] for r in v) for k, v in rows.items()}
        round_ = {
            k: statistics.median(r["median_round_s"] for r in v)
            for k, v in rows.items()
        }
        print(
            f"{name}: build generated {build['generated']:.2f} s vs from_keras_model "
            f"{build['keras']:.2f} s ({build['generated'] / build['keras']:.2f}x); median round "
            f"{round_['generated'] * 1000:.0f} ms vs {round_['keras'] * 1000:.0f} ms "
            f"({round_['generated'] / round_['keras']:.2f}x); {runs} interleaved runs each"
        )


def scale() -> None:
    for workers in ("1", "2"):
        row = _measure("generated", "mnist_logistic", "1000", "20", "1", workers)
        print(
            f"1000 clients x 20 examples, {workers} worker(s): build {row['build_s']:.1f} s, "
            f"one round {row['median_round_s']:.1f} s, peak RSS of the driver "
            f"{row['peak_mib']:.0f} MiB"
        )


if __name__ == "__main__":
    if sys.argv[1] == "child":
        kind, name, clients, examples, rounds, workers = sys.argv[2:8]
        _child(kind, name, int(clients), int(examples), int(rounds), int(workers))
    elif sys.argv[1] == "compare":
        compare(int(sys.argv[2]) if len(sys.argv) > 2 else 3)
    else:
        scale()
