"""Quiet TensorFlow's C++ logging: call `quiet_tensorflow()` before TensorFlow is imported.

TensorFlow 2.14 logs ERROR lines on every import (`Unable to register cuDNN
factory`, and the same for cuFFT and cuBLAS) and a `TF-TRT Warning`; TFF's
C++ `worker_binary` processes log `grappler_item_builder ... Failed to detect
the fetch node(s)` for most computations, and one `Failed to run
computation` line per client when a computation fails. None of them is about
the user's model: a training error reaches Python as an exception, which
`wrapgen run` prints as one line. TensorFlow's C++ logger reads
TF_CPP_MIN_LOG_LEVEL when it first logs, and the worker processes inherit
the environment, so setting it once, early, quiets them all. This module
never imports TensorFlow.
"""

from __future__ import annotations

import os

# 0 logs everything, 1 hides INFO, 2 also WARNING (the TF-TRT line), 3 also
# ERROR (the cuDNN/cuFFT/cuBLAS and grappler lines): only FATAL is left.
QUIET_LEVEL = "3"


def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ logging (here and in TFF's workers) to fatal errors.

    A TF_CPP_MIN_LOG_LEVEL the user set wins. It has no effect on a process
    that has already imported TensorFlow, only on the workers it starts next.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_LEVEL)
