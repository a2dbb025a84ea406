"""Variables followed through helpers: parameters bound by calls, containers, bounds on hostile code."""

from __future__ import annotations

import time

from codegen.verify import verify_source

HEAD = """\
import tensorflow as tf
import tensorflow_federated as tff


class M(tff.learning.models.VariableModel):
    def __init__(self):
        self._w = tf.Variable(0.0)
        self._n = tf.Variable(0.0)

    @property
    def trainable_variables(self):
        return [self._w]

    @property
    def local_variables(self):
        return [self._n]

"""


def _wg301(source: str):
    return list(verify_source(source, "m.py", select=["WG301"]))


def test_a_parameter_no_call_binds_is_not_guessed_at():
    source = HEAD + (
        "    def forward_pass(self, batch_input, training=True):\n"
        "        tf.nest.map_structure(lambda v: v.assign(0.0), batch_input)\n"
        "        return tff.learning.models.BatchOutput(loss=0.0, predictions=0.0, num_examples=1)\n"
    )
    assert _wg301(source) == []


def test_a_helper_called_with_a_weight_and_a_counter_is_reported_as_trainable():
    source = (
        HEAD + "    def forward_pass(self, batch_input, training=True):\n"
        "        bump(self._n)\n"
        "        bump(variable=self._w)\n"
        "        return tff.learning.models.BatchOutput(loss=0.0, predictions=0.0, num_examples=1)\n"
        "\n\ndef bump(variable):\n"
        "    variable.assign_add(1.0)\n"
    )
    findings = _wg301(source)
    assert [(f.line, f.column) for f in findings] == [(25, 5)]
    assert "a trainable variable (`variable`)" in findings[0].message
    assert "tff.learning.models.VariableModel" in findings[0].message


def test_star_arguments_leave_a_parameter_unknown():
    source = (
        HEAD + "    def forward_pass(self, batch_input, training=True):\n"
        "        bump(*[self._w])\n"
        "        return tff.learning.models.BatchOutput(loss=0.0, predictions=0.0, num_examples=1)\n"
        "\n\ndef bump(variable):\n"
        "    variable.assign_add(1.0)\n"
    )
    assert _wg301(source) == []


def test_recursive_and_long_chains_of_helpers_stay_fast():
    chain = "".join(
        f"\n\ndef h{i}(v, w):\n    h{i + 1}(w, v)\n    h{i}(v, w)\n    v.assign(1.0)\n"
        for i in range(300)
    )
    source = (
        HEAD
        + "    def forward_pass(self, batch_input, training=True):\n"
        + "".join(f"        h{i}(self._n, self._n)\n" for i in range(0, 300, 7))
        + "        return tff.learning.models.BatchOutput(loss=0.0, predictions=0.0, num_examples=1)\n"
        + chain
        + "\n\ndef h300(v, w):\n    w.assign(0.0)\n"
    )
    start = time.perf_counter()
    findings = _wg301(source)
    assert time.perf_counter() - start < 20
    assert findings == []  # every write reaches the local counter


def test_many_call_sites_make_a_parameter_unknown_not_slow():
    calls = "".join("        bump(self._n)\n" for _ in range(200))
    source = (
        HEAD
        + "    def forward_pass(self, batch_input, training=True):\n"
        + calls
        + "        bump(self._w)\n"
        + "        return tff.learning.models.BatchOutput(loss=0.0, predictions=0.0, num_examples=1)\n"
        + "\n\ndef bump(variable):\n    variable.assign_add(1.0)\n"
    )
    assert _wg301(source) == []  # past MAX_CALL_SITES the parameter is unknown


def test_zip_pairs_passed_to_a_helper_are_followed():
    source = (
        HEAD + "    def forward_pass(self, batch_input, training=True):\n"
        "        apply_all(zip([self._n], [1.0]))\n"
        "        apply_all(zip([self._w], [1.0]))\n"
        "        return tff.learning.models.BatchOutput(loss=0.0, predictions=0.0, num_examples=1)\n"
        "\n\ndef apply_all(pairs):\n"
        "    for variable, value in pairs:\n"
        "        variable.assign_add(value)\n"
    )
    findings = _wg301(source)
    assert [(f.line, f.column) for f in findings] == [(26, 9)]
    assert "a trainable variable (`variable`)" in findings[0].message
    clean = source.replace("zip([self._w]", "zip([self._n]")
    assert _wg301(clean) == []


def test_a_dict_literal_passed_to_a_method_is_followed_by_key():
    source = (
        HEAD + "    def forward_pass(self, batch_input, training=True):\n"
        '        self._tick({"steps": self._n, "weight": self._w})\n'
        "        return tff.learning.models.BatchOutput(loss=0.0, predictions=0.0, num_examples=1)\n"
        "\n    def _tick(self, counters):\n"
        '        counters["steps"].assign_add(1.0)\n'
        '        counters["weight"].assign_add(1.0)\n'
    )
    findings = _wg301(source)
    assert [(f.line, f.column) for f in findings] == [(24, 9)]
    assert "a trainable variable" in findings[0].message


def test_a_namedtuple_built_in_the_call_is_followed_by_field():
    source = (
        "import collections\n"
        + HEAD.replace("import tensorflow as tf\n", "import tensorflow as tf\n", 1)
        + "    def forward_pass(self, batch_input, training=True):\n"
        "        update(Pair(count=self._n, weight=self._w))\n"
        "        return tff.learning.models.BatchOutput(loss=0.0, predictions=0.0, num_examples=1)\n"
        '\n\nPair = collections.namedtuple("Pair", "count weight")\n'
        "\n\ndef update(pair):\n"
        "    pair.count.assign_add(1.0)\n"
        "    pair.weight.assign_add(1.0)\n"
    )
    findings = _wg301(source)
    assert [(f.line, f.column) for f in findings] == [(29, 5)]


def test_each_call_site_binds_once_up_to_the_limit():
    # Calls were counted twice (one per option of the call pattern): 33 calls
    # already passed MAX_CALL_SITES and the weight write below went unreported.
    calls = "".join("        bump(self._n)\n" for _ in range(40))
    source = (
        HEAD
        + "    def forward_pass(self, batch_input, training=True):\n"
        + calls
        + "        bump(self._w)\n"
        + "        return tff.learning.models.BatchOutput(loss=0.0, predictions=0.0, num_examples=1)\n"
        + "\n\ndef bump(variable):\n    variable.assign_add(1.0)\n"
    )
    findings = _wg301(source)
    assert [(f.line, f.column) for f in findings] == [(64, 5)]


def test_many_methods_calling_each_other_are_walked_once():
    # Every method walked the whole call graph (quadratic), and `_build` helpers
    # were pruned by a cubic fixpoint: 3,000 methods took minutes.
    count = 1500
    methods = "".join(
        f"    def m{i}(self, a):\n"
        f"        self.m{(i + 1) % count}(a)\n"
        f"        self.m{i * 7 % count}(a)\n"
        f"        a.assign(1.0)\n"
        f"    def _b{i}(self):\n"
        f"        self._b{(i + 1) % count}()\n"
        f"        self._b{i * 5 % count}()\n"
        for i in range(1, count)
    )
    source = (
        HEAD.replace("        self._w = tf.Variable(0.0)\n", "        self._b1()\n")
        + "    def forward_pass(self, batch_input, training=True):\n"
        "        self.m1(self._n)\n"
        "        return tff.learning.models.BatchOutput(loss=0.0, predictions=0.0, num_examples=1)\n"
        "\n    def _b0(self):\n"
        "        self._w = tf.Variable(0.0)\n" + methods
    )
    start = time.perf_counter()
    findings = list(verify_source(source, "m.py", select=["WG201", "WG301"]))
    assert time.perf_counter() - start < 20
    assert [f.code for f in findings] == []  # `_b*` run only from `__init__`
