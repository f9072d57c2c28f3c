"""The bundle's HTML copy and requirements.txt, made in a child process.

Both read user text with regular expressions (ours, nbconvert's, mistune's, IPython's)
and a quadratic case in any of them would hold the server's interpreter lock for
seconds. So they run in a child Python with a wall-clock limit (``SIGALRM`` with its
default action ends the child even inside a long regular expression) and an
address-space limit (``RLIMIT_AS``); a child that overruns is gone and the bundle goes
on without the HTML copy, its manifest saying why (``html-timeout``,
``html-too-large``, ``html-failed``).

The child never reads the user's files. It returns the page as text frames, cut where
an ``<img src>`` names an image the plan accepted; the writer in the server fills those
in with data URIs of images it reads itself, through the same checked opener as every
other file, and only up to a size limit (larger images stay relative links, which
resolve because those files are in the bundle too). Nothing holds a whole page.

Children are started on demand and one is kept for the next bundle (importing nbconvert
takes a second or two); every bundle has a child of its own, so no render waits for
another's. A child ends when its stdin closes, so none outlives the server.
"""

import json
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time

from .options import Cancelled

READY, REQUIREMENTS, TEXT, IMAGE, END, FAILED, NO_MEMORY = (bytes([c]) for c in b"RQTIEXM")
_FRAME = struct.Struct(">cI")
_START_SECONDS = 60  # a cold child imports nbconvert before it reads its job
_IDLE = 1


class RenderFailed(Exception):
    """No HTML copy (or requirements): ``reason`` is the manifest's word for why."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


def write_frame(out, kind, payload=b""):
    out.write(_FRAME.pack(kind, len(payload)) + payload)


class Child:
    """One child process and the job it is doing."""

    def __init__(self, memory):
        package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
        self.memory = memory
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nbext_pkg.bundlers.render_child", str(memory)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, cwd="/", close_fds=True)
        self.fd = self.proc.stdout.fileno()
        self.buffer = bytearray()
        self.ready = False
        self.clean = False

    def start(self, notebook_bytes, *, html, requirements, images, timeout):
        """Hand the child a job; it reads it once its imports are done."""
        header = json.dumps({"html": html, "requirements": requirements,
                             "images": sorted(images), "timeout": timeout}).encode()
        # Until the child has rendered: then its output may wait as long as the download.
        self.deadline = time.monotonic() + timeout + 1 + (0 if self.ready else _START_SECONDS)
        self.clean = False
        try:
            self.proc.stdin.write(header + b"\n" + struct.pack(">Q", len(notebook_bytes)))
            self.proc.stdin.write(notebook_bytes)
            self.proc.stdin.flush()
        except OSError:
            pass  # a child that died already says so when its frames are read

    def _fill(self, n, cancel):
        while len(self.buffer) < n:
            if cancel is not None and cancel.is_set():
                self.kill()
                raise Cancelled()
            left = None if self.deadline is None else self.deadline - time.monotonic()
            readable, _, _ = select.select([self.fd], [], [], 0.25 if left is None else
                                           max(0, min(left, 0.25)))
            if readable:
                data = os.read(self.fd, 1024 * 1024)
                if not data:
                    raise self._death()
                self.buffer += data
            elif left is not None and left <= 0:
                # The child's own alarm should have ended it first; this is the backstop.
                self.kill()
                raise RenderFailed("html-timeout", "the render did not finish in time")

    def _death(self):
        code = self.proc.wait()
        if code == -signal.SIGALRM:
            return RenderFailed("html-timeout", "the render overran its time limit")
        if code in (-signal.SIGKILL, -signal.SIGSEGV, -signal.SIGABRT, 3):
            return RenderFailed("html-too-large", f"the child ended ({code}): out of memory")
        return RenderFailed("html-failed", f"the child ended with status {code}")

    def frame(self, cancel):
        """The next (kind, payload) from the child."""
        self._fill(_FRAME.size, cancel)
        kind, length = _FRAME.unpack_from(self.buffer)
        self._fill(_FRAME.size + length, cancel)
        payload = bytes(self.buffer[_FRAME.size:_FRAME.size + length])
        del self.buffer[:_FRAME.size + length]
        if kind == READY:
            self.ready = True
            return self.frame(cancel)
        if kind in (TEXT, IMAGE, END):
            self.deadline = None
        if kind == END:
            self.clean = True
        elif kind == NO_MEMORY:
            self.kill()
            raise RenderFailed("html-too-large", payload.decode("utf-8", "replace"))
        elif kind == FAILED:
            self.clean = True
            raise RenderFailed("html-failed", payload.decode("utf-8", "replace"))
        return kind, payload

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.clean = False

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.kill()


class Pool:
    """Children to render with: one kept warm, more made when bundles overlap."""

    def __init__(self):
        self._idle = []
        self._lock = threading.Lock()

    def take(self, memory):
        with self._lock:
            while self._idle:
                child = self._idle.pop()
                if child.memory == memory and child.proc.poll() is None:
                    return child
                child.close()
        return Child(memory)

    def give(self, child):
        """Back to the pool if it finished its job cleanly, else ended."""
        if child.clean and child.proc.poll() is None:
            with self._lock:
                if len(self._idle) < _IDLE:
                    self._idle.append(child)
                    return
        child.close()


POOL = Pool()


class Job:
    """One bundle's render: started early, read when the writer gets to it."""

    def __init__(self, notebook_bytes, *, html, requirements, images, timeout, memory, cancel):
        self.cancel = cancel
        self.failure = None
        self._pending = None
        try:
            self.child = POOL.take(memory)
        except OSError as error:  # no process to be had (limits, memory): no page, no requirements
            self.child = None
            self.failure = RenderFailed("html-failed", f"no render process could start: {error}")
            return
        self.child.start(notebook_bytes, html=html, requirements=requirements,
                         images=images, timeout=timeout)

    def requirements(self):
        """requirements.txt's text; RenderFailed if the child could not say."""
        kind, payload = self._next()
        if kind != REQUIREMENTS:
            self._pending = (kind, payload)
            raise RenderFailed("html-failed", "the child sent no requirements")
        return payload.decode("utf-8")

    def _next(self):
        if self.failure is not None:
            raise self.failure  # the child is gone: the same reason for what was left
        if self._pending is not None:
            pending, self._pending = self._pending, None
            return pending
        try:
            return self.child.frame(self.cancel)
        except RenderFailed as error:
            self.failure = error
            raise

    def pieces(self):
        """The page as ("text", bytes) and ("image", (key, original)) pieces."""
        while True:
            kind, payload = self._next()
            if kind == END:
                return
            if kind == TEXT:
                yield "text", payload
            elif kind == IMAGE:
                key, original = json.loads(payload)
                yield "image", (key, original)

    def finish(self):
        """Done with the child: kept for the next bundle if it got to the end of its job."""
        if self.child is None:
            return
        if not self.child.clean and self.failure is None:
            try:
                while not self.child.clean:
                    self.child.frame(self.cancel)
            except (RenderFailed, Cancelled):
                pass
        POOL.give(self.child)
