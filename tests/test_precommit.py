"""The hooks of .pre-commit-hooks.yaml, run by the real pre-commit tool in a fresh user repository."""

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


def _hook(repo: Path, hook: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*PRE_COMMIT, "try-repo", str(ROOT), hook, "--all-files", "--color", "never"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def user_repo(tmp_path_factory):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path_factory.mktemp("user_repo")
    (repo / "models").mkdir()
    shutil.copy(EXAMPLES / "mnist_logistic.yaml", repo / "models")
    shutil.copy(EXAMPLES / "mnist_logistic.py", repo / "models")
    (repo / "notes.yaml").write_text("not: a spec\n")
    (repo / "tool.py").write_text("print('hand-written, not generated')\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
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
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path_factory.mktemp("pre_commit_home")),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    return repo, env


def test_hooks_pass_fresh_fail_hand_edited_and_restore(user_repo):
    repo, env = user_repo
    module = repo / "models" / "mnist_logistic.py"
    fresh = module.read_text("utf-8")

    checked = _hook(repo, "wrapgen-check", env)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    module.write_text(
        fresh.replace("LEARNING_RATE = 0.1", "LEARNING_RATE = 0.3"), "utf-8"
    )
    checked = _hook(repo, "wrapgen-check", env)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert (
        "-LEARNING_RATE = 0.3" in checked.stdout
        and "+LEARNING_RATE = 0.1" in checked.stdout
    )
    assert "LEARNING_RATE = 0.3" in module.read_text("utf-8")  # check never writes

    restored = _hook(repo, "wrapgen", env)
    assert restored.returncode == 1, (
        restored.stdout + restored.stderr
    )  # files were modified
    assert "files were modified by this hook" in restored.stdout
    assert module.read_text("utf-8") == fresh

    again = _hook(repo, "wrapgen", env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _hook(repo, "wrapgen-check", env).returncode == 0


def test_hook_environment_has_no_tensorflow(user_repo):
    """Installed the way users install it (a pinned rev in .pre-commit-config.yaml)."""
    repo, env = user_repo
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {ROOT}\n  rev: {head}\n  hooks:\n  - id: wrapgen-check\n"
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
