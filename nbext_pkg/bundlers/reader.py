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


class ReaderFailed(Exception):
    """The reading process could not start, or ended: read in the server instead."""


def _reason(answer, path):
    from .fetch import OverBudget, TooLarge, Unreadable

    kind = {"missing": Missing, "too-large": TooLarge, "limit": OverBudget}.get(answer["reason"], Unreadable)
    return kind(answer.get("message") or path)


class Reader:
    def __init__(self, spec, key):
        from .render import _SPAWNER

        self.key = key
        self.proc = _SPAWNER.popen(
            [sys.executable, "-m", "nbext_pkg.bundlers.contents_child", str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, close_fds=True)
        self.fd = self.proc.stdout.fileno()
        self.ready, self.broken = False, False
        self.buffer = b""
        try:
            self.proc.stdin.write(spec)
        except OSError as error:
            self.kill()
            raise ReaderFailed(f"the reading process did not take its set-up: {error}") from None

    @classmethod
    def for_manager(cls, manager, mode):
        """A Reader for ``manager`` (an idle one when there is one), or None where it is
        read in the server: ``mode`` "thread" always, "auto" unless its package is in
        REBUILDABLE, and whenever its configuration cannot be sent to another process."""
        package = type(manager).__module__.split(".")[0]
        if mode == "thread" or (mode == "auto" and package not in REBUILDABLE):
            return None
        try:
            spec = pickle.dumps({"path": list(sys.path), "module": type(manager).__module__,
                                 "qualname": type(manager).__qualname__, "config": manager.config})
        except Exception as error:
            log.warning("nbext_pkg: %s's files are read in the server: %r", type(manager).__name__, error)
            return None
        key = hashlib.sha256(spec).digest()
        with _IDLE_LOCK:
            idle = _IDLE.pop(key, None)
        if idle is not None and idle.proc.poll() is None:
            return idle
        try:
            return cls(spec, key)
        except (OSError, ReaderFailed) as error:
            log.warning("nbext_pkg: no reading process for %s: %r", type(manager).__name__, error)
            return None

    # -- the pipe -----------------------------------------------------------------------

    def _more(self, cancel, until):
        poller = select.poll()
        poller.register(self.fd, select.POLLIN | select.POLLHUP)
        while not poller.poll(250):
            if cancel.is_set():
                raise Cancelled()
            if time.monotonic() > until:
                raise ReaderFailed("the reading process did not answer in time")
        block = os.read(self.fd, READ_SIZE)
        if not block:
            raise ReaderFailed(f"the reading process ended ({self.proc.poll()})")
        self.buffer += block

    def _line(self, cancel, until):
        while b"\n" not in self.buffer:
            self._more(cancel, until)
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)

    def _take(self, most, cancel, until):
        if not self.buffer:
            self._more(cancel, until)
        block, self.buffer = self.buffer[:most], self.buffer[most:]
        return block

    def _ask(self, request, cancel, until):
        try:
            if not self.ready:
                if self._line(cancel, until) != "ready":
                    raise ReaderFailed("the reading process did not start")
                self.ready = True
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
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
        if "reason" in answer:
            raise _reason(answer, path)
        return PipedFile(self, answer["size"], path, cancel, timeout)

    def done(self):
        """The bundle is over: keep a sound process for the next one, else end it."""
        if self.broken or self.proc.poll() is not None:
            self.kill()
            return
        try:
            answer = self._ask({"release": True}, _NEVER, time.monotonic() + 10)
        except (ReaderFailed, Cancelled):
            answer = None
        if answer != {"released": True}:
            self.kill()
            return
        with _IDLE_LOCK:
            previous, _IDLE[self.key] = _IDLE.get(self.key), self
        if previous is not None and previous is not self:
            previous.kill()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            stream.close()


_NEVER = threading.Event()


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
