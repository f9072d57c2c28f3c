"""A pytest plugin: SIGTERM stops the run as Ctrl-C does, tearing the fixtures down, so
no server, cluster or browser outlives a run that was told to stop (scripts/test passes
its SIGTERM on to its runs; so may a CI runner)."""

import signal


def _interrupted(signum, frame):
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def pytest_configure(config):
    signal.signal(signal.SIGTERM, _interrupted)
