"""A pytest plugin: SIGTERM stops the run as Ctrl-C does, tearing the fixtures down, so
no server, cluster or browser outlives a run that was told to stop (scripts/test passes
its SIGTERM on to its runs; so may a CI runner)."""

import signal


def _interrupted(signum, frame):
    # Once: a second SIGTERM (a CI runner signalling the whole group, say) must not cut
    # the teardown that the first one started.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def pytest_configure(config):
    signal.signal(signal.SIGTERM, _interrupted)
