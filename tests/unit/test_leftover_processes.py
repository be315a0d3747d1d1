"""The suite leaves nothing running: a session whose tests leave a process alive, a child or an orphan re-parented
away from pytest, fails, names it, and kills it (tests/processes.py)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.processes import _live, kill_tree

REPO = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    return any(p.pid == pid for p in _live())


def session(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(textwrap.dedent("""\
        from tests.processes import LeftoverCheck

        def pytest_configure(config):
            config.pluginmanager.register(LeftoverCheck(), "leftover-check")
        """))
    (tmp_path / "test_it.py").write_text(textwrap.dedent(body))
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(tmp_path)],
                          cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=120)


def test_a_session_that_leaves_a_child_and_an_orphan_fails_and_kills_both(tmp_path: Path) -> None:
    result = session(tmp_path, """\
        import subprocess

        def test_starts_a_server_and_forgets_it():
            subprocess.Popen(["sleep", "300"])

        def test_an_orphan_in_a_session_of_its_own():
            subprocess.run(["sh", "-c", "setsid sleep 301 > /dev/null 2>&1 &"], check=True)
        """)
    assert result.returncode == 1, result.stdout
    assert "2 passed" in result.stdout
    assert "processes the suite started and left running (killed now)" in result.stdout
    named = dict(re.findall(r"^\s+(\d+)\s+sleep (30[01])$", result.stdout, re.MULTILINE))
    assert sorted(named.values()) == ["300", "301"], result.stdout
    time.sleep(0.5)
    assert not any(alive(int(pid)) for pid in named)


def test_a_session_that_reaps_what_it_starts_passes(tmp_path: Path) -> None:
    result = session(tmp_path, """\
        import subprocess

        def test_starts_and_stops_a_server():
            server = subprocess.Popen(["sleep", "300"])
            server.kill()
            server.wait()
        """)
    assert result.returncode == 0, result.stdout
    assert "left running" not in result.stdout


def test_kill_tree_takes_the_descendants_in_groups_of_their_own() -> None:
    parent = subprocess.Popen(["sh", "-c", "setsid sleep 302 & setsid sleep 303 & wait"], start_new_session=True)
    deadline = time.monotonic() + 10
    while len([p for p in _live() if p.command in ("sleep 302", "sleep 303")]) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    children = [p.pid for p in _live() if p.command in ("sleep 302", "sleep 303")]
    kill_tree(parent.pid)
    parent.wait()
    time.sleep(0.2)
    assert not any(alive(pid) for pid in children)
