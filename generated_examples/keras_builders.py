"""Keras builders named by example specs (`forward: {keras: keras_builders:...}`)."""

import tensorflow as tf


def build_mlp() -> tf.keras.Model:
    """784 -> 64 (relu) -> 10 (softmax), uncompiled, with seeded initial weights."""
    inputs = tf.keras.Input(shape=(784,), dtype=tf.float32, name="x")
    hidden = tf.keras.layers.Dense(
        64,
        activation="relu",
        kernel_initializer=tf.keras.initializers.GlorotUniform(seed=1),
    )(inputs)
    outputs = tf.keras.layers.Dense(
        10,
        activation="softmax",
        kernel_initializer=tf.keras.initializers.GlorotUniform(seed=2),
    )(hidden)
    return tf.keras.Model(inputs=inputs, outputs=outputs)
