"""A run told to stop (SIGTERM) tears its fixtures down, as after Ctrl-C."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from harness import wait_until

RUN = """
import os, signal
from pathlib import Path
import pytest

@pytest.fixture(scope="session")
def server():
    yield
    Path(os.environ["MARK"]).write_text("torn down")

def test_long(server):
    Path(os.environ["MARK"] + ".started").touch()
    signal.pause()  # until a signal comes: the one the outer test sends
"""


def test_sigterm_stops_the_run_and_tears_the_fixtures_down(tmp_path):
    (tmp_path / "test_long.py").write_text(RUN)
    mark = tmp_path / "mark"
    env = dict(os.environ, MARK=str(mark), PYTHONPATH=str(Path(__file__).parent))
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "interrupt",
            "-q",
            "-c",
            os.devnull,
            "--rootdir",
            str(tmp_path),
            str(tmp_path / "test_long.py"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(
            lambda: Path(f"{mark}.started").exists() or run.poll() is not None, 60, "the test to start"
        )
        assert run.poll() is None, run.stdout.read()
        run.send_signal(signal.SIGTERM)
        out, _ = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 2, out  # pytest's "interrupted"
    assert "stopped by signal 15" in out
    assert mark.read_text() == "torn down"
