"""ClientData functions for `wrapgen run --data run_clients:FUNCTION` (tests/test_run_data.py).

Run from this folder: `module:function` is imported from the current directory.
The clients hold examples for generated_examples/linear_regression.yaml
(x: float32 [null, 2], y: float32 [null, 1]) from y = 1.5 x0 - 2 x1 + 0.5.
"""

import collections

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

CLIENTS = 6
EXAMPLES = 32


def _examples(client: int) -> collections.OrderedDict:
    rng = np.random.default_rng(client)
    x = rng.standard_normal((EXAMPLES, 2)).astype(np.float32)
    y = (x @ np.array([[1.5], [-2.0]]) + 0.5).astype(np.float32)
    return collections.OrderedDict(x=x, y=y)


def client_data() -> tff.simulation.datasets.ClientData:
    """TFF's own ClientData, as TFF's simulation datasets come."""
    return tff.simulation.datasets.TestClientData(
        {f"client_{i}": _examples(i) for i in range(CLIENTS)}
    )


def mapping() -> dict:
    """A dict of client id to tf.data.Dataset of (features, label) pairs, in batches of 4."""
    return {
        i: tf.data.Dataset.from_tensor_slices(
            (_examples(i)["x"], _examples(i)["y"])
        ).batch(4)
        for i in range(CLIENTS)
    }


def not_client_data() -> list:
    return [1, 2, 3]


def empty_client() -> dict:
    clients = {
        f"c{i}": tf.data.Dataset.from_tensor_slices(_examples(i)) for i in range(3)
    }
    clients["c1"] = clients["c1"].take(0)
    return clients


def wrong_keys() -> dict:
    return {"c0": tf.data.Dataset.from_tensor_slices({"features": _examples(0)["x"]})}


def wrong_shape() -> dict:
    return {
        "c0": tf.data.Dataset.from_tensor_slices(
            collections.OrderedDict(
                x=np.zeros((4, 3), np.float32), y=_examples(0)["y"][:4]
            )
        )
    }


def raises() -> dict:
    raise RuntimeError("the data server is down")
