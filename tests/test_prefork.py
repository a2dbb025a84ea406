"""The verifier process of a one-spec generation (`codegen.prefork`).

`wrapgen SPEC -o OUT` forks, at launch, a process that imports libcst and
verifies the rendered module. These tests run the real executable and the
real fork: the module is the same byte for byte as a one-process run, the
verifier really answered (the command's own process never imported
libcst), its findings and errors equal the in-process verifier's, a dead
verifier falls back, and none outlives the command (an error, a fresh
module, Ctrl-C).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT, interrupted, process_alive, process_group

from codegen.prefork import one_spec
from codegen.verify import verify_source

WRAPGEN = [sys.executable, "-m", "codegen"]
SPEC = EXAMPLES / "mnist_cnn.yaml"
BROKEN = ROOT / "tests" / "verify_eras" / "modern_variable_broken.py"

needs_two_cores = pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2, reason="the verifier process needs a second core"
)


def _one_core() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _run(*args: str, cwd: Path, one_core: bool = False, importtime: bool = False):
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run(
        [sys.executable, *flags, "-m", "codegen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_one_core if one_core else None,
        start_new_session=True,
    )


def _imported(stderr: str) -> set[str]:
    """Module names in `python -X importtime` output."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["spec.yaml"], ("spec.yaml", None)),
        (["spec.yml", "-o", "out.py"], ("spec.yml", "out.py")),
        (["generate", "spec.yaml", "--output", "-"], ("spec.yaml", "-")),
        (["spec.yaml", "-oout.py", "--force"], ("spec.yaml", "out.py")),
        (
            ["--output=out.py", "--skip-other-files", "spec.yaml"],
            ("spec.yaml", "out.py"),
        ),
        (["--", "-odd.yaml"], ("-odd.yaml", None)),
        (["models/a.py"], None),  # a generated module: its spec is in its header
        ([], None),
        (["--help"], None),
        (["spec.yaml", "--help"], None),
        (["--version"], None),
        (["a.yaml", "b.yaml"], None),
        (["check", "a.yaml"], None),
        (["verify", "model.py"], None),
        (["run", "a.yaml"], None),
        (["init"], None),
        (["schema"], None),
        (["spec.yaml", "-o"], None),
        (["spec.json"], None),
    ],
)
def test_only_a_one_spec_generation_starts_a_verifier(argv, expected):
    assert one_spec(argv) == expected


_STARTS = """
import sys
from codegen import prefork
prefork.start_for(sys.argv[1:])
print(prefork._started is not None)
"""


@needs_two_cores
@pytest.mark.parametrize(
    ("case", "starts"),
    [
        ("no-module", True),
        ("module-older", True),
        ("module-newer", False),
        ("module-newer-to-stdout", True),
        ("output-newer", False),
        ("output-older", True),
    ],
)
def test_no_verifier_for_a_module_newer_than_its_spec(tmp_path, case, starts):
    spec = tmp_path / "model.yaml"
    spec.write_text("wrapgen: 1\n", "utf-8")
    module = tmp_path / ("out.py" if case.startswith("output") else "model.py")
    if case != "no-module":
        module.write_text("# module\n", "utf-8")
        older, newer = (module, spec) if case.endswith("older") else (spec, module)
        os.utime(older, ns=(1_000_000_000, 1_000_000_000))
        os.utime(newer, ns=(2_000_000_000, 2_000_000_000))
    argv = [str(spec)]
    if case.startswith("output"):
        argv += ["-o", str(module)]
    elif case.endswith("to-stdout"):
        argv += ["-o", "-"]
    result = subprocess.run(
        [sys.executable, "-c", _STARTS, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.stdout.strip() == str(starts), result.stderr


@needs_two_cores
def test_module_is_the_same_and_libcst_runs_only_in_the_verifier(tmp_path):
    runs = {}
    for one_core in (False, True):
        folder = tmp_path / ("one" if one_core else "two")
        folder.mkdir()
        result = _run(
            str(SPEC), "-o", "model.py", cwd=folder, one_core=one_core, importtime=True
        )
        assert result.returncode == 0, result.stderr[-2000:]
        runs[one_core] = (folder / "model.py").read_bytes(), _imported(result.stderr)
    (two, imported_two), (one, imported_one) = runs[False], runs[True]
    assert two == one
    # The command's process rendered; the forked verifier imported libcst and verified.
    assert "jinja2" in imported_two and "codegen.render" in imported_two
    assert not {name for name in imported_two if name.split(".")[0] == "libcst"}
    assert "libcst" in imported_one and "codegen.verify" in imported_one


@needs_two_cores
@pytest.mark.parametrize("closed", [0, 1, 2])
def test_a_closed_standard_stream_at_launch_means_one_process(tmp_path, closed):
    """A pipe end would take the closed stream's number: no verifier process then,
    and the module is the same."""
    answer = 2 if closed == 1 else 1  # a stream still open
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import os; os.close({closed}); from codegen import prefork; "
            "prefork.start_for(['a.yaml']); "
            f"os.write({answer}, str(prefork._started is None).encode())",
        ],
        capture_output=True,
        timeout=60,
        cwd=ROOT,
    )
    assert (probe.stdout + probe.stderr).strip() == b"True", probe
    result = subprocess.run(
        [*WRAPGEN, str(SPEC), "-o", "model.py"],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        preexec_fn=lambda: os.close(closed),
    )
    assert result.returncode == 0, result.stderr
    assert _run(str(SPEC), "-o", "one.py", cwd=tmp_path, one_core=True).returncode == 0
    written = (tmp_path / "model.py").read_text("utf-8")
    assert (
        written.replace("-o model.py", "-o one.py") == (tmp_path / "one.py").read_text()
    )


_PROBE = """
import json, os, sys
from codegen import prefork
prefork.start_for(["model.yaml"])
pid = prefork._started.pid
if sys.argv[1] == "kill":
    os.kill(pid, 9)
    os.waitpid(pid, 0)
text = open(sys.argv[2], encoding="utf-8").read()
try:
    answer = [str(finding) for finding in prefork.verify_source(text, "m.py")]
except Exception as error:
    answer = ["raised", type(error).__name__, str(error)]
try:
    os.waitpid(pid, os.WNOHANG)
    reaped = False
except ChildProcessError:
    reaped = True
print(json.dumps({"answer": answer, "reaped": reaped, "left": prefork._started is None,
                  "verified_here": "codegen.verify" in sys.modules}))
"""


def _probe(mode: str, module: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, mode, str(module)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _here(module: Path) -> list[str]:
    try:
        return [str(f) for f in verify_source(module.read_text("utf-8"), "m.py")]
    except Exception as error:  # noqa: BLE001 - compared with the verifier process's
        return ["raised", type(error).__name__, str(error)]


@needs_two_cores
def test_verifier_findings_equal_the_in_process_ones():
    expected = _here(BROKEN)
    assert expected and expected[0] != "raised"  # the broken corpus module has findings
    probe = _probe("ask", BROKEN)
    assert probe == {
        "answer": expected,
        "reaped": True,
        "left": True,
        "verified_here": False,
    }


@needs_two_cores
def test_a_module_the_verifier_refuses_is_refused_here_alike(tmp_path):
    unparsable = tmp_path / "bad.py"
    unparsable.write_text("def f(:\n    pass\n", "utf-8")
    expected = _here(unparsable)
    assert expected[0] == "raised"
    probe = _probe("ask", unparsable)
    assert probe["answer"] == expected
    assert probe["reaped"] and probe["left"]
    assert probe["verified_here"]  # the verifier raised: verified again here to say why


@needs_two_cores
def test_a_dead_verifier_falls_back_to_verifying_here():
    probe = _probe("kill", BROKEN)
    assert probe["answer"] == _here(BROKEN)
    assert probe["verified_here"] and probe["left"]


@needs_two_cores
@pytest.mark.parametrize("case", ["spec-problem", "fresh-module"])
def test_an_unused_verifier_does_not_outlive_the_command(tmp_path, case):
    spec = tmp_path / "model.yaml"
    text = SPEC.read_text("utf-8")
    if case == "spec-problem":
        text = text.replace("learning_rate: 0.001", "learning_rate: -1")
        assert "learning_rate: -1" in text
    spec.write_text(text, "utf-8")
    if case == "fresh-module":
        assert _run(str(spec), cwd=tmp_path).returncode == 0
        # Up to date, but the spec was saved again since: the verifier starts.
        later = (tmp_path / "model.py").stat().st_mtime_ns + 10**9
        os.utime(spec, ns=(later, later))
    process = subprocess.Popen(
        [*WRAPGEN, str(spec)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == (2 if case == "spec-problem" else 0), stderr
    if case == "fresh-module":
        assert stdout.startswith("up to date: ")
    assert process_group(process.pid) == []


@needs_two_cores
@pytest.mark.parametrize("death", ["exit", "SIGKILL"])
def test_the_verifier_leaves_at_once_when_the_command_dies(death):
    """Even while it imports libcst (a few hundred ms), with no `stop` run."""
    kill = "os._exit(0)" if death == "exit" else "os.kill(os.getpid(), 9)"
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os; from codegen import prefork; prefork.start_for(['a.yaml']); "
            f"os.write(1, str(prefork._started.pid).encode()); {kill}",
        ],
        capture_output=True,
        timeout=60,
        cwd=ROOT,
    )
    pid = int(probe.stdout)
    deadline = time.monotonic() + 0.2
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not process_alive(pid)


@needs_two_cores
def test_ctrl_c_during_a_one_spec_generation_leaves_no_process_or_partial_module(
    tmp_path,
):
    target = tmp_path / "model.py"
    assert (
        _run(str(SPEC), "-o", str(target), cwd=tmp_path, one_core=True).returncode == 0
    )
    expected = target.read_bytes()
    rng = random.Random(5)
    outcomes = set()
    for _ in range(12):
        target.unlink()
        pid, code, stderr = interrupted(
            [*WRAPGEN, str(SPEC), "-o", str(target)], tmp_path, rng.uniform(0.05, 0.7)
        )
        outcomes.add(code)
        assert process_group(pid) == [], stderr
        assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["model.py"])
        if target.exists():
            assert target.read_bytes() == expected
        else:
            target.write_bytes(expected)
        if code == 130:
            assert "Traceback" not in stderr, stderr
    assert 130 in outcomes
