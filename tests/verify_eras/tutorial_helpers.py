"""The 2019 image-classification tutorial's pattern: variables in containers, updated by helpers.

A namedtuple made by a module-level `create_mnist_variables()` holds the
weights and the metric sums; a module-level `mnist_forward_pass(variables,
batch)` updates the sums through its parameter; a method helper takes a dict
of counters by keyword; an accumulator list is updated through a loop in a
helper. Every write reaches a local variable only.
"""

import collections

import tensorflow as tf
import tensorflow_federated as tff

MnistVariables = collections.namedtuple(
    "MnistVariables", "weights bias num_examples loss_sum accuracy_sum"
)


def create_mnist_variables():
    return MnistVariables(
        weights=tf.Variable(
            lambda: tf.zeros(dtype=tf.float32, shape=(784, 10)),
            name="weights",
            trainable=True,
        ),
        bias=tf.Variable(
            lambda: tf.zeros(dtype=tf.float32, shape=(10)), name="bias", trainable=True
        ),
        num_examples=tf.Variable(0.0, name="num_examples", trainable=False),
        loss_sum=tf.Variable(0.0, name="loss_sum", trainable=False),
        accuracy_sum=tf.Variable(0.0, name="accuracy_sum", trainable=False),
    )


def predict(variables, x):
    return tf.nn.softmax(tf.matmul(x, variables.weights) + variables.bias)


def mnist_forward_pass(variables, batch):
    y = predict(variables, batch["x"])
    predictions = tf.cast(tf.argmax(y, 1), tf.int32)
    flat_labels = tf.reshape(batch["y"], [-1])
    loss = -tf.reduce_mean(
        tf.reduce_sum(tf.one_hot(flat_labels, 10) * tf.math.log(y), axis=[1])
    )
    accuracy = tf.reduce_mean(tf.cast(tf.equal(predictions, flat_labels), tf.float32))
    num_examples = tf.cast(tf.size(batch["y"]), tf.float32)
    variables.num_examples.assign_add(num_examples)
    variables.loss_sum.assign_add(loss * num_examples)
    variables.accuracy_sum.assign_add(accuracy * num_examples)
    return loss, predictions


def add_to_all(sums, value):
    for total in sums:
        total.assign_add(value)


def get_local_mnist_metrics(variables):
    return collections.OrderedDict(
        num_examples=variables.num_examples,
        loss=variables.loss_sum / variables.num_examples,
        accuracy=variables.accuracy_sum / variables.num_examples,
    )


@tff.federated_computation
def aggregate_mnist_metrics_across_clients(metrics):
    return collections.OrderedDict(
        num_examples=tff.federated_sum(metrics.num_examples),
        loss=tff.federated_mean(metrics.loss, metrics.num_examples),
        accuracy=tff.federated_mean(metrics.accuracy, metrics.num_examples),
    )


class MnistModel(tff.learning.Model):
    def __init__(self):
        self._variables = create_mnist_variables()
        self._counters = {
            "batches": tf.Variable(0, trainable=False),
            "steps": tf.Variable(0, trainable=False),
        }
        self._seen = [
            tf.Variable(0.0, trainable=False),
            tf.Variable(0.0, trainable=False),
        ]

    @property
    def trainable_variables(self):
        return [self._variables.weights, self._variables.bias]

    @property
    def non_trainable_variables(self):
        return []

    @property
    def local_variables(self):
        return [
            self._variables.num_examples,
            self._variables.loss_sum,
            self._variables.accuracy_sum,
            self._counters["batches"],
            self._counters["steps"],
            *self._seen,
        ]

    @property
    def input_spec(self):
        return collections.OrderedDict(
            x=tf.TensorSpec([None, 784], tf.float32),
            y=tf.TensorSpec([None, 1], tf.int32),
        )

    @tf.function
    def forward_pass(self, batch, training=True):
        del training
        loss, predictions = mnist_forward_pass(self._variables, batch)
        self._count(counters=self._counters, key="batches")
        add_to_all(self._seen, 1.0)
        return tff.learning.BatchOutput(loss=loss, predictions=predictions)

    def _count(self, key, counters):
        counters[key].assign_add(1)
        counters["steps"].assign_add(1)

    @tf.function
    def report_local_outputs(self):
        return get_local_mnist_metrics(self._variables)

    @property
    def federated_output_computation(self):
        return aggregate_mnist_metrics_across_clients


class MnistTrainableModel(MnistModel, tff.learning.TrainableModel):
    @tf.function
    def train_on_batch(self, batch):
        with tf.GradientTape() as tape:
            output = self.forward_pass(batch)
        grads = tape.gradient(output.loss, self.trainable_variables)
        optimizer = tf.keras.optimizers.SGD(0.02)
        optimizer.apply_gradients(
            zip(tf.nest.flatten(grads), tf.nest.flatten(self.trainable_variables))
        )
        return output


class GraphModeMnistModel(MnistModel, tff.learning.TrainableModel):
    """TFF 0.4 (graph mode): the optimizer differentiates the loss itself."""

    @tf.function
    def train_on_batch(self, batch):
        output = self.forward_pass(batch)
        optimizer = tf.compat.v1.train.GradientDescentOptimizer(0.02)
        optimizer.minimize(output.loss, var_list=self.trainable_variables)
        return output
