"""undecidable_model.py broken: a variable collection written as a method."""

import tensorflow as tf
import tensorflow_federated as tff


class Base(tff.learning.Model):
    def __init__(self):
        self._w = tf.Variable(tf.zeros([2, 1]), name="w")

    @property
    def trainable_variables(self):
        return [self._w]

    @property
    def non_trainable_variables(self):
        return []

    # expect next line: WG101 [every generation]
    def local_variables(self):
        return []
