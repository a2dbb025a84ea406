"""The hooks of .pre-commit-hooks.yaml, run by the real pre-commit tool in a fresh user repository.

The hooks come from a committed snapshot of this working tree (tracked and
untracked files, as they are now), since `pre-commit try-repo` would take
only what git tracks. File names in the user repositories are untrusted:
one named `-ohack.py` must stay a path, and a module whose header names a
file outside the repository must not get that file read or printed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT

PRE_COMMIT = [sys.executable, "-m", "pre_commit"]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, timeout=60
    )


def _commit_all(repo: Path) -> None:
    _git(repo, "add", "--all")
    _git(
        repo,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "commit",
        "-qm",
        "init",
    )


@pytest.fixture(scope="module")
def wrapgen_repo(tmp_path_factory) -> Path:
    """This working tree, tracked and untracked files as they are now, committed in a new repository."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout.split(b"\0")
    snapshot = tmp_path_factory.mktemp("wrapgen_repo")
    for name in filter(None, (os.fsdecode(entry) for entry in listed)):
        source = ROOT / name
        if source.is_file() or source.is_symlink():
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, snapshot / name, follow_symlinks=False)
    _git(snapshot, "init", "-q")
    _commit_all(snapshot)
    return snapshot


@pytest.fixture(scope="module")
def hook_env(tmp_path_factory) -> dict:
    return {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path_factory.mktemp("pre_commit_home")),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }


def _hook(
    repo: Path, hook: str, env: dict, source: Path
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*PRE_COMMIT, "try-repo", str(source), hook, "--all-files", "--color", "never"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def user_repo(tmp_path_factory, wrapgen_repo, hook_env):
    repo = tmp_path_factory.mktemp("user_repo")
    (repo / "models").mkdir()
    shutil.copy(EXAMPLES / "mnist_logistic.yaml", repo / "models")
    shutil.copy(EXAMPLES / "mnist_logistic.py", repo / "models")
    (repo / "notes.yaml").write_text("not: a spec\n")
    (repo / "tool.py").write_text("print('hand-written, not generated')\n")
    _git(repo, "init", "-q")
    _commit_all(repo)
    return repo, hook_env, wrapgen_repo


def test_hooks_pass_fresh_fail_hand_edited_and_restore(user_repo):
    repo, env, source = user_repo
    module = repo / "models" / "mnist_logistic.py"
    fresh = module.read_text("utf-8")

    checked = _hook(repo, "wrapgen-check", env, source)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    module.write_text(
        fresh.replace("LEARNING_RATE = 0.1", "LEARNING_RATE = 0.3"), "utf-8"
    )
    checked = _hook(repo, "wrapgen-check", env, source)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert (
        "-LEARNING_RATE = 0.3" in checked.stdout
        and "+LEARNING_RATE = 0.1" in checked.stdout
    )
    assert "LEARNING_RATE = 0.3" in module.read_text("utf-8")  # check never writes

    restored = _hook(repo, "wrapgen", env, source)
    assert restored.returncode == 1, (
        restored.stdout + restored.stderr
    )  # files were modified
    assert "files were modified by this hook" in restored.stdout
    assert module.read_text("utf-8") == fresh

    again = _hook(repo, "wrapgen", env, source)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _hook(repo, "wrapgen-check", env, source).returncode == 0


def test_hook_environment_has_no_tensorflow(user_repo):
    """Installed the way users install it (a pinned rev in .pre-commit-config.yaml)."""
    repo, env, source = user_repo
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=source,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {source}\n  rev: {head}\n  hooks:\n  - id: wrapgen-check\n"
    )
    result = subprocess.run(
        [*PRE_COMMIT, "run", "--all-files", "--color", "never"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    pythons = list(Path(env["PRE_COMMIT_HOME"]).glob("repo*/py_env-*/bin/python"))
    assert len(pythons) == 1
    probe = subprocess.run(
        [
            str(pythons[0]),
            "-c",
            "import importlib.util as u; "
            "print(u.find_spec('tensorflow') is None, u.find_spec('codegen') is not None)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.stdout.split() == ["True", "True"], probe.stderr


@pytest.fixture()
def fresh_repo(tmp_path, wrapgen_repo, hook_env):
    """An empty git repository of a user, with the hooks' source and environment."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    return repo, hook_env, wrapgen_repo


def test_a_file_named_like_an_option_stays_a_path(fresh_repo):
    """pre-commit appends file names to the entry; the entry's `--` makes them paths."""
    repo, env, source = fresh_repo
    shutil.copy(EXAMPLES / "linear_regression.yaml", repo / "spec.yaml")
    (repo / "-ohack.py").write_text("print('a file, not an option')\n")
    _commit_all(repo)
    result = _hook(repo, "wrapgen", env, source)
    assert not (repo / "hack.py").exists(), result.stdout
    assert (repo / "spec.py").read_text("utf-8").startswith("# @generated by wrapgen")
    assert (repo / "-ohack.py").read_text() == "print('a file, not an option')\n"
    checked = _hook(repo, "wrapgen-check", env, source)
    assert checked.returncode == 0, checked.stdout
    assert not (repo / "hack.py").exists()


def test_a_header_naming_a_file_outside_the_repository_is_not_read(
    fresh_repo, tmp_path
):
    repo, env, source = fresh_repo
    secret = tmp_path / "id_rsa"
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nTOPSECRET-5f3a9c\n")
    shutil.copy(EXAMPLES / "linear_regression.yaml", repo / "spec.yaml")
    module = (EXAMPLES / "linear_regression.py").read_text("utf-8")
    first, rest = module.split("\n", 1)
    start, end = first.split(" from ", 1)[0], first.split(" (sha256 ", 1)[1]
    (repo / "spec.py").write_text(f"{start} from {secret} (sha256 {end}\n{rest}")
    _commit_all(repo)
    for hook in ("wrapgen-check", "wrapgen"):
        result = _hook(repo, hook, env, source)
        assert result.returncode == 1, result.stdout
        assert "TOPSECRET" not in result.stdout + result.stderr
        assert "outside the project root" in result.stdout


HANDWRITTEN = ROOT / "tests" / "handwritten" / "linear_regression.py"
PLANTED = "        self._a.assign(self._a * 0.5)  # a weight written in forward_pass\n"


def _with_planted_defect(text: str) -> tuple[str, int]:
    """The hand-written model with a weight written in forward_pass, and that line's number."""
    anchor = "        loss = tf.reduce_mean(0.5 * tf.square(error))\n"
    assert anchor in text
    broken = text.replace(anchor, anchor + PLANTED, 1)
    return broken, broken.splitlines().index(PLANTED.rstrip("\n")) + 1


def test_verify_hook_passes_clean_models_and_reports_a_planted_defect(fresh_repo):
    repo, env, source = fresh_repo
    shutil.copy(HANDWRITTEN, repo / "clean.py")
    shutil.copy(EXAMPLES / "linear_regression.yaml", repo / "spec.yaml")
    shutil.copy(EXAMPLES / "linear_regression.py", repo / "spec.py")
    (repo / "notes.py").write_text("print('no model here')\n")
    _commit_all(repo)
    result = _hook(repo, "wrapgen-verify", env, source)
    assert result.returncode == 0, result.stdout + result.stderr

    broken, line = _with_planted_defect(HANDWRITTEN.read_text("utf-8"))
    (repo / "broken.py").write_text(broken, "utf-8")
    _commit_all(repo)
    result = _hook(repo, "wrapgen-verify", env, source)
    assert result.returncode == 1, result.stdout + result.stderr
    findings = [
        text for text in result.stdout.splitlines() if text.startswith("broken.py:")
    ]
    assert len(findings) == 1 and findings[0].startswith(f"broken.py:{line}:")
    assert " WG301 " in findings[0]
    assert "clean.py:" not in result.stdout and "spec.py:" not in result.stdout


def test_readme_pre_commit_config_works_as_written(fresh_repo):
    """The README's `.pre-commit-config.yaml`, copied verbatim, with the wrapgen of this
    environment on PATH as a user's active environment has it."""
    repo, env, _ = fresh_repo
    readme = (ROOT / "README.md").read_text("utf-8")
    block = readme.split("<!-- pre-commit-config: begin -->\n", 1)[1]
    block = block.split("<!-- pre-commit-config: end -->", 1)[0]
    config = block.split("\n", 1)[1].rsplit("```", 1)[0]
    (repo / ".pre-commit-config.yaml").write_text(config)
    (repo / "models").mkdir()
    shutil.copy(EXAMPLES / "mnist_logistic.yaml", repo / "models")
    shutil.copy(EXAMPLES / "mnist_logistic.py", repo / "models")
    shutil.copy(HANDWRITTEN, repo / "models" / "hand.py")
    _commit_all(repo)
    bin_dir = str(Path(sys.executable).parent)
    env = {**env, "PATH": bin_dir + os.pathsep + env.get("PATH", "")}

    def run() -> subprocess.CompletedProcess:
        return subprocess.run(
            [*PRE_COMMIT, "run", "--all-files", "--color", "never"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    passed = run()
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert passed.stdout.count("Passed") == 2

    spec = repo / "models" / "mnist_logistic.yaml"
    spec.write_text(
        spec.read_text().replace("learning_rate: 0.1", "learning_rate: 0.2")
    )
    hand = repo / "models" / "hand.py"
    broken, line = _with_planted_defect(hand.read_text("utf-8"))
    hand.write_text(broken, "utf-8")
    failed = run()
    assert failed.returncode == 1
    assert (
        "stale: models/mnist_logistic.py (spec models/mnist_logistic.yaml): its spec "
        "changed since it was generated; run: wrapgen models/mnist_logistic.yaml"
        in failed.stdout
    )
    assert f"models/hand.py:{line}:" in failed.stdout
    assert "LEARNING_RATE = 0.1" in (repo / "models" / "mnist_logistic.py").read_text()
