"""A hand-written TFF model in the style of TFF's own `LinearRegression` test model.

Nothing here comes from wrapgen: it is what a TFF user writes by hand, with
both the modern `VariableModel` members and the classic `train_on_batch`,
`report_local_outputs` and `federated_output_computation`. The test suite
runs `wrapgen verify` on it (clean) and on broken copies of it (each rule
fires at the broken line), and trains it with FedAvg.
"""

import collections

import tensorflow as tf
import tensorflow_federated as tff

FEATURE_DIM = 2
LEARNING_RATE = 0.1


class LinearRegression(tff.learning.models.VariableModel):
    """y = x . a + b, with a non-trainable scale `c` on the predictions."""

    def __init__(self, feature_dim: int = FEATURE_DIM) -> None:
        self._feature_dim = feature_dim
        self._a = tf.Variable(tf.zeros([feature_dim, 1]), name="a", trainable=True)
        self._b = tf.Variable(0.0, name="b", trainable=True)
        self._c = tf.Variable(1.0, name="c", trainable=False)
        self._num_examples = tf.Variable(0, name="num_examples", trainable=False)
        self._num_batches = tf.Variable(0, name="num_batches", trainable=False)
        self._loss_sum = tf.Variable(0.0, name="loss_sum", trainable=False)

    @property
    def trainable_variables(self):
        return [self._a, self._b]

    @property
    def non_trainable_variables(self):
        return [self._c]

    @property
    def local_variables(self):
        return [self._num_examples, self._num_batches, self._loss_sum]

    @property
    def input_spec(self):
        return collections.OrderedDict(
            x=tf.TensorSpec([None, self._feature_dim], tf.float32),
            y=tf.TensorSpec([None, 1], tf.float32),
        )

    @tf.function
    def predict_on_batch(self, x, training=True):
        del training  # the model has no training-only behaviour
        return (tf.matmul(x, self._a) + self._b) * self._c

    @tf.function
    def forward_pass(self, batch_input, training=True):
        predictions = self.predict_on_batch(batch_input["x"], training=training)
        error = predictions - batch_input["y"]
        loss = tf.reduce_mean(0.5 * tf.square(error))
        num_examples = tf.shape(predictions)[0]
        self._count(num_examples, loss)
        return tff.learning.models.BatchOutput(
            loss=loss, predictions=predictions, num_examples=num_examples
        )

    def _count(self, num_examples, loss):
        self._num_examples.assign_add(num_examples)
        self._num_batches.assign_add(1)
        self._loss_sum.assign_add(loss * tf.cast(num_examples, tf.float32))

    @tf.function
    def train_on_batch(self, batch_input):
        with tf.GradientTape() as tape:
            output = self.forward_pass(batch_input, training=True)
        gradients = tape.gradient(output.loss, self.trainable_variables)
        for variable, gradient in zip(self.trainable_variables, gradients):
            variable.assign_sub(LEARNING_RATE * gradient)
        return output

    @tf.function
    def report_local_unfinalized_metrics(self):
        return collections.OrderedDict(
            loss=[self._loss_sum, tf.cast(self._num_examples, tf.float32)],
            num_examples=self._num_examples,
            num_batches=self._num_batches,
        )

    def metric_finalizers(self):
        return collections.OrderedDict(
            loss=tf.function(lambda x: tf.math.divide_no_nan(x[0], x[1])),
            num_examples=tf.function(tf.identity),
            num_batches=tf.function(tf.identity),
        )

    @tf.function
    def reset_metrics(self):
        for variable in self.local_variables:
            variable.assign(tf.zeros_like(variable))

    def report_local_outputs(self):
        return collections.OrderedDict(
            loss=tf.math.divide_no_nan(
                self._loss_sum, tf.cast(self._num_examples, tf.float32)
            ),
            num_examples=tf.cast(self._num_examples, tf.int64),
            num_batches=tf.cast(self._num_batches, tf.int64),
        )

    @property
    def federated_output_computation(self):
        local_type = collections.OrderedDict(
            loss=tf.float32.as_numpy_dtype,
            num_examples=tf.int64.as_numpy_dtype,
            num_batches=tf.int64.as_numpy_dtype,
        )

        @tff.federated_computation(tff.FederatedType(local_type, tff.CLIENTS))
        def aggregate(local_outputs):
            return collections.OrderedDict(
                loss=tff.federated_mean(
                    local_outputs.loss, weight=local_outputs.num_examples
                ),
                num_examples=tff.federated_sum(local_outputs.num_examples),
                num_batches=tff.federated_sum(local_outputs.num_batches),
            )

        return aggregate


def model_fn():
    return LinearRegression()
