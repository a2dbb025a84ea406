"""Federated data as TFF users hold it: a `tff.simulation.datasets.ClientData`.

`wrapgen run ../linear_regression.yaml --data linear_regression_clients:client_data`
(from this folder) imports this module and calls `client_data()`. Each client's
dataset is made only when the client is sampled; its elements are single
examples `{"x": float32 [2], "y": float32 [1]}`, named like the spec's inputs.
"""

from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

CSV = Path(__file__).with_name("linear_regression_clients.csv")


def client_data() -> tff.simulation.datasets.ClientData:
    table = np.genfromtxt(CSV, delimiter=",", names=True, dtype=None, encoding="utf-8")
    ids = sorted(set(table["client_id"]))

    def dataset(client_id: str) -> tf.data.Dataset:
        rows = table[table["client_id"] == client_id]
        return tf.data.Dataset.from_tensor_slices(
            {
                "x": np.stack([rows["x_0"], rows["x_1"]], axis=1).astype(np.float32),
                "y": rows["y"].astype(np.float32)[:, None],
            }
        )

    return tff.simulation.datasets.ClientData.from_clients_and_tf_fn(ids, dataset)
