"""ops/engine/releases.py base_tree: an earlier release's tree from git, also in a shallow clone."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ops.engine.releases import base_tree
from ops.engine.stacks import StackError


def git(*args: str, cwd: Path) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "HOME": str(cwd), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout.strip()


def two_releases(tmp_path: Path) -> tuple[Path, str]:
    origin = tmp_path / "origin"
    origin.mkdir()
    git("init", "--quiet", cwd=origin)
    (origin / "release.txt").write_text("one\n")
    git("add", ".", cwd=origin)
    git("commit", "--quiet", "-m", "one", cwd=origin)
    first = git("rev-parse", "HEAD", cwd=origin)
    (origin / "release.txt").write_text("two\n")
    git("commit", "--quiet", "-am", "two", cwd=origin)
    return origin, first


def test_a_shallow_clone_is_deepened_from_its_origin_for_an_older_release(tmp_path: Path) -> None:
    origin, first = two_releases(tmp_path)
    clone = tmp_path / "clone"
    git("clone", "--quiet", "--depth", "1", f"file://{origin}", str(clone), cwd=tmp_path)
    assert git("rev-parse", "--is-shallow-repository", cwd=clone) == "true"
    tree = base_tree(first, tmp_path / "base", repo=clone)
    assert (tree / "release.txt").read_text() == "one\n"


def test_an_unknown_ref_is_refused_with_its_name(tmp_path: Path) -> None:
    origin, _ = two_releases(tmp_path)
    with pytest.raises(StackError, match="'no-such-release' is not a git ref"):
        base_tree("no-such-release", tmp_path / "base", repo=origin)
