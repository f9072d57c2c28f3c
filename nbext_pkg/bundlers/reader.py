"""A process that reads a bundle's files through a copy of the server's contents
manager (the other end is contents_child.py), so that the manager's work on a file
(psycopg2 turning a bytea into bytes, base64 both ways) holds that process's
interpreter and memory, not the server's.

The copy is rebuilt from the manager's class and the server's configuration, which is
right only for managers that keep all of their state in their store and take all of
their settings from the configuration (REBUILDABLE, or any with
``c.NbextPkg.contents_reader = "process"``). A file comes over a pipe as its size,
its bytes and a last word (whole, or why not), and goes from the pipe into the
archive: nothing of it is held in the server. After a clean bundle the process is kept
for the next one (one per manager), its database connections closed; one that fails is
killed and the server's own threads read the rest.
"""

import hashlib
import json
import logging
import os
import pickle
import select
import subprocess
import sys
import threading
import time

from .options import Cancelled
from .sources import READ_SIZE, Blocks, Changed, Missing

log = logging.getLogger("nbext_pkg")

REBUILDABLE = frozenset({"pgcontents", "s3contents"})
_IDLE = {}  # the spec's digest -> a ready Reader no bundle is using
_IDLE_LOCK = threading.Lock()
_LONGEST_LINE = 64 * 1024


class ReaderFailed(Exception):
    """The reading process could not start, or ended: read in the server instead."""


class ReaderTimeout(ReaderFailed):
    """The reading process did not answer in time (nor would the store, read here)."""


def _reason(answer, path):
    from .fetch import OverBudget, TooLarge, Unreadable

    kind = {"missing": Missing, "too-large": TooLarge, "limit": OverBudget}.get(answer["reason"], Unreadable)
    return kind(answer.get("message") or path)


class Reader:
    def __init__(self, spec, key, kind):
        from .render import _SPAWNER

        self.key, self.kind = key, kind
        # PYTHONSAFEPATH: the server's working folder is not where nbext_pkg comes from.
        self.proc = _SPAWNER.popen(
            [sys.executable, "-m", "nbext_pkg.bundlers.contents_child", str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            close_fds=True,
            env=dict(os.environ, PYTHONSAFEPATH="1"),
        )
        self.fd = self.proc.stdout.fileno()
        self.ready, self.broken = False, False
        self.buffer = b""
        try:
            self._send(spec)
        except OSError as error:
            self.kill()
            raise ReaderFailed(f"the reading process did not take its set-up: {error}") from None

    def _send(self, data):
        view = memoryview(data)
        while view:
            view = view[self.proc.stdin.write(view) :]

    @classmethod
    def for_manager(cls, manager, mode):
        """A Reader for ``manager`` (an idle one when there is one), or None where it is
        read in the server: ``mode`` "thread" always, "auto" unless its package is in
        REBUILDABLE, and whenever its configuration cannot be sent to another process."""
        package = type(manager).__module__.split(".")[0]
        # A mixed manager's sub-managers may keep state a copy would not have.
        mixed = isinstance(getattr(manager, "managers", None), dict)
        if mode == "thread" or (mode == "auto" and (package not in REBUILDABLE or mixed)):
            return None
        try:
            path = [os.path.abspath(entry) if entry else os.getcwd() for entry in sys.path]
            spec = pickle.dumps(
                {
                    "path": path,
                    "module": type(manager).__module__,
                    "qualname": type(manager).__qualname__,
                    "config": manager.config,
                }
            )
        except Exception as error:
            log.warning("nbext_pkg: %s's files are read in the server: %r", type(manager).__name__, error)
            return None
        key = hashlib.sha256(spec).digest()
        with _IDLE_LOCK:
            idle = _IDLE.pop(key, None)
        if idle is not None:
            if idle.proc.poll() is None:
                return Lease(idle)
            idle.kill()
        try:
            return Lease(cls(spec, key, (type(manager).__module__, type(manager).__qualname__)))
        except (OSError, ReaderFailed) as error:
            log.warning("nbext_pkg: no reading process for %s: %r", type(manager).__name__, error)
            return None

    # -- the pipe -----------------------------------------------------------------------

    def _more(self, cancel, until):
        if self.fd < 0:
            raise ReaderFailed("the reading process was ended")
        poller = select.poll()
        poller.register(self.fd, select.POLLIN | select.POLLHUP)
        while not poller.poll(250):
            if cancel.is_set():
                raise Cancelled()
            if time.monotonic() > until:
                raise ReaderTimeout("the reading process did not answer in time")
        block = os.read(self.fd, READ_SIZE)
        if not block:
            raise ReaderFailed(f"the reading process ended ({self.proc.poll()})")
        self.buffer += block

    def _line(self, cancel, until):
        """The next JSON line; ReaderFailed if what comes is not one (out of step)."""
        while b"\n" not in self.buffer[:_LONGEST_LINE]:
            if len(self.buffer) > _LONGEST_LINE:
                raise ReaderFailed("the reading process is out of step")
            self._more(cancel, until)
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            return json.loads(line)
        except ValueError:
            raise ReaderFailed("the reading process is out of step") from None

    def _take(self, most, cancel, until):
        if not self.buffer:
            self._more(cancel, until)
        block, self.buffer = self.buffer[:most], self.buffer[most:]
        return block

    def _ask(self, request, cancel, until):
        if self.broken:
            raise ReaderFailed("the reading process is out of step")
        try:
            if not self.ready:
                if self._line(cancel, until) != "ready":
                    raise ReaderFailed("the reading process did not start")
                self.ready = True
            self._send(json.dumps(request).encode() + b"\n")
            return self._line(cancel, until)
        except (OSError, ValueError) as error:
            raise ReaderFailed(f"the reading process failed: {error!r}") from None

    # -- files ----------------------------------------------------------------------------

    def open(self, path, limit, cancel, timeout):
        """(size, PipedFile) of the file at the API ``path``, or Changed with the reason."""
        until = time.monotonic() + timeout
        try:
            answer = self._ask({"path": path, "limit": limit}, cancel, until)
        except BaseException:
            self.broken = True
            raise
        if isinstance(answer, dict) and isinstance(answer.get("reason"), str):
            raise _reason(answer, path)
        size = answer.get("size") if isinstance(answer, dict) else None
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            self.broken = True
            raise ReaderFailed(f"the reading process answered {answer!r}")
        return PipedFile(self, size, path, cancel, timeout)

    def done(self):
        """The bundle is over: keep a sound process for the next one, else end it
        (through a Lease, once per bundle)."""
        if self.broken or self.proc.poll() is not None:
            self.kill()
            return
        if self.ready:  # (one still starting has used nothing yet: kept as it is)
            try:
                answer = self._ask({"release": True}, _NEVER, time.monotonic() + 10)
            except (ReaderFailed, Cancelled):
                answer = None
            if answer != {"released": True}:
                self.kill()
                return
        with _IDLE_LOCK:
            previous, _IDLE[self.key] = _IDLE.get(self.key), self
            # One idle process per manager class: one kept for an older set-up goes.
            stale = [
                key
                for key, other in _IDLE.items()
                if key != self.key and other.proc.args == self.proc.args and other.kind == self.kind
            ]
            stale = [_IDLE.pop(key) for key in stale]
        for other in ([previous] if previous is not None and previous is not self else []) + stale:
            other.kill()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.fd = -1
        for stream in (self.proc.stdin, self.proc.stdout):
            stream.close()


_NEVER = threading.Event()


class Lease:
    """One bundle's use of a Reader: ``done`` hands it back once, however many times a
    failing bundle says so (by then the process may be another bundle's)."""

    def __init__(self, reader):
        self.reader = reader
        self._lock = threading.Lock()
        self._returned = False

    def __getattr__(self, name):
        return getattr(self.reader, name)

    def done(self):
        with self._lock:
            if self._returned:
                return
            self._returned = True
        self.reader.done()


class PipedFile(Blocks):
    """A file coming over a Reader's pipe, with the interface of sources.CheckedFile:
    ``finish`` takes the last word (Changed if the file did not come whole)."""

    def __init__(self, reader, size, path, cancel, timeout):
        self.reader, self.size, self.path = reader, size, path
        self.cancel, self.timeout = cancel, timeout
        self.left, self.finished = size, False
        self.item = None  # set by the caller: the planned member with this size

    def read(self, n=READ_SIZE):
        if self.left <= 0:
            return b""
        try:
            block = self.reader._take(min(n, self.left), self.cancel, time.monotonic() + self.timeout)
        except ReaderFailed as error:
            self.reader.broken = True
            from .fetch import Unreadable

            raise Unreadable(f"{self.path}: {error}") from None
        self.left -= len(block)
        return block

    def finish(self):
        if self.left:
            raise Changed(f"{self.path} was not read whole")
        try:
            answer = self.reader._line(self.cancel, time.monotonic() + self.timeout)
        except (ReaderFailed, ValueError) as error:
            self.reader.broken = True
            from .fetch import Unreadable

            raise Unreadable(f"{self.path}: {error}") from None
        self.finished = True
        if answer != {"ok": True}:
            raise _reason(answer, self.path)

    def close(self):
        """Unless it was read whole, the pipe is out of step: the process is not kept."""
        if not self.finished:
            self.reader.broken = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
