"""A classic (2019) model written against `from tensorflow_federated import python as tff`.

The aggregation is a federated computation defined inside the
`federated_output_computation` property, as TFF's own examples of 2019 did.
"""

import collections

import tensorflow as tf
from tensorflow_federated import python as tff


class Linear(tff.learning.Model):
    def __init__(self):
        self._w = tf.Variable(tf.zeros([2, 1]), name="w")
        self._num_examples = tf.Variable(0.0, name="num_examples", trainable=False)
        self._loss_sum = tf.Variable(0.0, name="loss_sum", trainable=False)

    @property
    def trainable_variables(self):
        return [self._w]

    @property
    def non_trainable_variables(self):
        return []

    @property
    def local_variables(self):
        return [self._num_examples, self._loss_sum]

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
        num_examples = tf.cast(tf.shape(predictions)[0], tf.float32)
        self._num_examples.assign_add(num_examples)
        self._loss_sum.assign_add(loss * num_examples)
        return tff.learning.BatchOutput(
            loss=loss, predictions=predictions, num_examples=num_examples
        )

    @tf.function
    def report_local_outputs(self):
        return collections.OrderedDict(
            num_examples=self._num_examples,
            loss=self._loss_sum / self._num_examples,
        )

    @property
    def federated_output_computation(self):
        @tff.federated_computation
        def aggregate(metrics):
            return collections.OrderedDict(
                num_examples=tff.federated_sum(metrics.num_examples),
                loss=tff.federated_mean(metrics.loss, metrics.num_examples),
            )

        return aggregate
