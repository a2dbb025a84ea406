"""internal_intrinsics.py broken: Python arithmetic and a TensorFlow op on placed values."""

import collections

import tensorflow as tf
from tensorflow_federated.python.core.impl.federated_context import (
    federated_computation,
    intrinsics,
)
from tensorflow_federated.python.learning import model as model_lib


class MaxLoss(model_lib.Model):
    def __init__(self):
        self._w = tf.Variable(tf.zeros([2, 1]), name="w")
        self._max_loss = tf.Variable(0.0, name="max_loss", trainable=False)
        self._num_examples = tf.Variable(0, name="num_examples", trainable=False)

    @property
    def trainable_variables(self):
        return [self._w]

    @property
    def non_trainable_variables(self):
        return []

    @property
    def local_variables(self):
        return [self._max_loss, self._num_examples]

    @property
    def input_spec(self):
        return collections.OrderedDict(
            x=tf.TensorSpec([None, 2], tf.float32),
            y=tf.TensorSpec([None, 1], tf.float32),
        )

    @tf.function
    def forward_pass(self, batch_input, training=True):
        predictions = tf.matmul(batch_input["x"], self._w)
        loss = tf.reduce_mean(tf.square(predictions - batch_input["y"]))
        num_examples = tf.shape(predictions)[0]
        self._max_loss.assign(tf.maximum(self._max_loss, loss))
        self._num_examples.assign_add(num_examples)
        return model_lib.BatchOutput(
            loss=loss, predictions=predictions, num_examples=num_examples
        )

    @tf.function
    def report_local_outputs(self):
        return collections.OrderedDict(
            max_loss=self._max_loss, num_examples=self._num_examples
        )

    @property
    def federated_output_computation(self):
        @federated_computation.federated_computation
        def aggregate(metrics):
            return collections.OrderedDict(
                # expect next line: WG501
                max_loss=intrinsics.federated_max(metrics.max_loss) * 2.0,
                num_examples=intrinsics.federated_sum(metrics.num_examples),
            )

        return aggregate


def metrics_aggregator(metric_type):
    @federated_computation.federated_computation(metric_type)
    def aggregate(client_metrics):
        # expect next line: WG501
        return tf.reduce_sum(client_metrics)

    return aggregate
