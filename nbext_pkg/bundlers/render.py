"""Everything a bundle does with the notebook's text happens in a child process: parsing
the notebook, finding its references and imports (for the plan), and the HTML copy.

All of these run regular expressions and parsers over user text (ours, nbformat's,
nbconvert's, mistune's, IPython's), and a quadratic case in any of them, or a very
large notebook, would hold the server's interpreter lock for seconds. In the child they
run with a wall-clock limit (``SIGALRM`` with its default action ends the child even
inside a long regular expression) and an address-space limit (``RLIMIT_AS``); a child
that overruns is gone, and the bundle says why: 413 when the notebook could not be read
for the plan, ``html-timeout`` / ``html-too-large`` / ``html-failed`` in the manifest for
the HTML copy.

The child never reads the user's other files. It returns the page cut where an ``<img
src>`` names an image the plan accepted; the writer in the server fills those in with
data URIs of images it reads itself, through the same checked opener as every other file.

One bundle has one child (a ``Session``): it reads the notebook while the bundle is
planned, keeps it, and renders it while the files are written. Children are forked from
one zygote process that has imported nbformat, nbconvert and the rest once, so a new
child costs milliseconds, not the seconds a new Python takes; one idle child is kept for
the next bundle, and no bundle waits for another's. The zygote is started by one
long-lived thread and asks the kernel to end it when that thread ends
(``PR_SET_PDEATHSIG``), and its children do the same with it, so none outlives the
server, however the server ends.
"""

import json
import os
import queue
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

from .options import Cancelled

READY, FACTS, TEXT, IMAGE, END, FAILED, NO_MEMORY = (bytes([c]) for c in b"RFTIEXM")
_FRAME = struct.Struct(">cI")
_START_SECONDS = 60  # a new zygote imports nbformat before it forks the first child
_FORK_SECONDS = 30
_RECYCLE_BYTES = 64 * 1024 * 1024  # a child that read a notebook this large is not kept
_IDLE = 1


class RenderFailed(Exception):
    """The child could not do its job: ``reason`` says why, in the manifest's words
    (``timeout``, ``too-large`` or ``failed``; prefixed ``html-`` for the HTML copy)."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


def write_frame(out, kind, payload=b""):
    out.write(_FRAME.pack(kind, len(payload)) + payload)


class _Spawner:
    """One thread that starts every child, for the life of the server: a child's
    ``PR_SET_PDEATHSIG`` fires when the thread that started it ends, so that thread
    must not be a download's."""

    def __init__(self):
        self.requests = queue.Queue()
        self.thread = None
        self.lock = threading.Lock()

    def _run(self):
        while True:
            args, kwargs, box = self.requests.get()
            try:
                box.put(subprocess.Popen(args, **kwargs))
            except Exception as error:  # reported to the caller
                box.put(error)

    def popen(self, args, **kwargs):
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="nbext_pkg-spawner", daemon=True)
                self.thread.start()
        box = queue.Queue()
        self.requests.put((args, kwargs, box))
        found = box.get()
        if isinstance(found, Exception):
            raise found
        return found


_SPAWNER = _Spawner()


def _send_fd(sock, fd, payload):
    sock.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", fd))])


def _recv_exact(sock, n):
    data = b""
    while len(data) < n:
        block = sock.recv(n - len(data))
        if not block:
            raise OSError("the zygote is gone")
        data += block
    return data


class _Zygote:
    """The process children are forked from. It imports nbformat and our modules, then,
    between fork requests, nbconvert and IPython's transformer, and forks a child in a
    few milliseconds where starting a new Python and importing all that takes seconds.
    It is single-threaded, so forking it is safe. It ends when the server does."""

    def __init__(self):
        package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ)
        # Last: whatever the server imports from comes first, as it does in the server.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), package_parent) if p)
        ours, theirs = socket.socketpair()
        try:
            self.proc = _SPAWNER.popen(
                [
                    sys.executable,
                    "-m",
                    "nbext_pkg.bundlers.render_child",
                    "zygote",
                    str(os.getpid()),
                    str(theirs.fileno()),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                cwd="/",
                close_fds=True,
                pass_fds=[theirs.fileno()],
            )
        finally:
            theirs.close()
        self.control = ours
        # A zygote that does not answer (stopped, or stuck on a hung file system) is
        # replaced rather than waited for.
        self.control.settimeout(_FORK_SECONDS)
        self.lock = threading.Lock()

    def fork(self, memory):
        """(pid, socket) of a new child with an address-space limit of ``memory`` bytes."""
        ours, theirs = socket.socketpair()
        try:
            with self.lock:
                _send_fd(self.control, theirs.fileno(), struct.pack(">Q", memory))
                pid = struct.unpack(">q", _recv_exact(self.control, 8))[0]
        except OSError:
            ours.close()
            self.stop()
            raise
        finally:
            theirs.close()
        if pid < 0:
            ours.close()
            raise OSError("the zygote could not fork a child")
        return pid, ours

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.control.close()


_ZYGOTE = {"zygote": None}
_ZYGOTE_LOCK = threading.Lock()


def _fork(memory):
    with _ZYGOTE_LOCK:
        zygote = _ZYGOTE["zygote"]
        if zygote is None or not zygote.alive():
            zygote = _ZYGOTE["zygote"] = _Zygote()
    return zygote.fork(memory)


class Child:
    """One child process and the frames it sends. Its socket belongs to whoever reads it
    (the session, or a session's drain thread): ``kill`` only signals the process."""

    def __init__(self, memory):
        self.memory = memory
        self.pid, self.sock = _fork(memory)
        self.fd = self.sock.fileno()
        try:  # a handle on the process itself: its pid may be reused once it has ended
            self.pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self.pidfd = None
        self.buffer = bytearray()
        self.ready = False
        self.dead = False
        self.recycle = False
        self.clean = True  # between jobs
        self.deadline = None
        self.job_started = None
        self.job_timeout = None

    def send(self, header, body=b"", deadline=None):
        """Hand the child a job (``body``: bytes or an iterable of them, ``header["size"]``
        long); it reads it once its imports are done."""
        self.deadline = deadline
        self.clean = False
        self.job_started, self.job_timeout = time.monotonic(), header.get("timeout")
        blocks = [body] if isinstance(body, (bytes, bytearray)) else body
        try:
            self.sock.sendall(json.dumps(header).encode() + b"\n" + struct.pack(">Q", header.get("size", 0)))
            for block in blocks:
                self.sock.sendall(block)
        except OSError:
            pass  # a child that died already says so when its frames are read

    def _fill(self, n, cancel, timed_out):
        poller = select.poll()  # not select(): that fails for descriptors past 1023
        poller.register(self.fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        while len(self.buffer) < n:
            if cancel is not None and cancel.is_set():
                self.kill()
                raise Cancelled()
            left = None if self.deadline is None else self.deadline - time.monotonic()
            wait = 0.25 if left is None else max(0, min(left, 0.25))
            if poller.poll(wait * 1000):
                try:
                    data = os.read(self.fd, 1024 * 1024)
                except OSError:
                    data = b""
                if not data:
                    raise self._death(timed_out)
                self.buffer += data
            elif left is not None and left <= 0:
                # The child's own alarm should have ended it first; this is the backstop.
                self.kill()
                raise RenderFailed("timeout", timed_out)

    def _death(self, timed_out):
        """Why the child's output ended without a word: it is not our child (the zygote's),
        so no exit status; a child that ran out of memory says so before it ends, one past
        its time is ended by its own alarm."""
        self.kill()
        if self.job_timeout is not None and time.monotonic() - self.job_started >= self.job_timeout * 0.95:
            return RenderFailed("timeout", timed_out)
        return RenderFailed("died", "the child ended without a word")

    def frame(self, cancel, timed_out="the child overran its time limit"):
        """The next (kind, payload) from the child; RenderFailed or Cancelled instead."""
        self.wait_ready(cancel)
        self._fill(_FRAME.size, cancel, timed_out)
        kind, length = _FRAME.unpack_from(self.buffer)
        self._fill(_FRAME.size + length, cancel, timed_out)
        payload = bytes(self.buffer[_FRAME.size : _FRAME.size + length])
        del self.buffer[: _FRAME.size + length]
        if kind in (TEXT, IMAGE):
            self.deadline = None  # rendered: the rest may wait as long as the download
        if kind == END:
            self.clean, self.deadline = True, None
        elif kind == NO_MEMORY:
            self.kill()
            raise RenderFailed("too-large", payload.decode("utf-8", "replace"))
        elif kind == FAILED:
            self.clean, self.deadline = True, None
            raise RenderFailed("failed", payload.decode("utf-8", "replace"))
        return kind, payload

    def wait_ready(self, cancel):
        """Wait (up to a minute) for a new child to have started."""
        if not self.ready:
            deadline, self.deadline = self.deadline, time.monotonic() + _START_SECONDS
            self._fill(_FRAME.size, cancel, "the child did not start")
            kind, length = _FRAME.unpack_from(self.buffer)
            if kind != READY:
                raise RenderFailed("died", f"the child said {kind!r} first")
            del self.buffer[: _FRAME.size + length]
            self.ready, self.deadline = True, deadline

    def alive(self):
        """Not ended, by us or otherwise (an idle child sends nothing, so anything to read
        on its socket means it has gone)."""
        if not self.dead:
            poller = select.poll()
            poller.register(self.fd, select.POLLIN | select.POLLHUP | select.POLLERR)
            if poller.poll(0) and self.ready:
                self.kill()
        return not self.dead

    def kill(self):
        if not self.dead:
            self.dead = True
            try:
                if self.pidfd is not None:
                    signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
                else:
                    os.kill(self.pid, signal.SIGKILL)
            except (ProcessLookupError, OSError):
                pass
        self.clean = False

    def close(self):
        """Kill it and let go of its socket (by its owner only)."""
        self.kill()
        self.sock.close()
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


class Pool:
    """Children to work with: one kept warm, more made when bundles overlap."""

    def __init__(self):
        self._idle = []
        self._lock = threading.Lock()

    def take(self, memory):
        with self._lock:
            while self._idle:
                child = self._idle.pop()
                if child.memory == memory and child.alive():
                    return child
                child.close()
        return Child(memory)

    def give(self, child):
        """Back to the pool if it finished its last job cleanly, else ended."""
        if child.clean and not child.recycle and child.alive():
            with self._lock:
                if len(self._idle) < _IDLE:
                    self._idle.append(child)
                    return
        child.close()


POOL = Pool()


class Session:
    """One bundle's child: ``read`` while planning, ``render`` while writing, ``finish``.

    A render's frames are drained by a thread of the session into a spool (memory for a
    small page, a temporary file for a large one) as the child sends them, and the child
    goes back to the pool as soon as it is done: a download that stalls holds no child.
    While the drain runs it alone owns the child and the spool; ``finish`` then only
    ends the child, and the drain lets go of both.
    """

    def __init__(self, memory, cancel):
        self.cancel = cancel
        self.failure = None
        self._drained = None
        self._spool = None
        self._over = False
        self._lock = threading.Lock()
        try:
            self.child = POOL.take(memory)
            self.pid = self.child.pid
        except OSError as error:  # no process to be had (limits, memory, a wedged zygote)
            self.child, self.pid = None, None
            self.failure = RenderFailed("unavailable", f"no child process could start: {error}")

    def start(self):
        """Wait for the child to have started, so that its start does not count against
        the plan's deadline."""
        if self.failure is None:
            try:
                self.child.wait_ready(self.cancel)
            except RenderFailed as error:
                self.failure = error

    def read(self, size, blocks, *, base_url, max_references, deadline):
        """The notebook's facts (references, excludes, metadata) from its bytes, given as
        ``blocks()``: an iterable each time it is called (a child found dead when asked
        is replaced once, and asked again)."""
        for attempt in (1, 2):
            self.start()
            if self.failure is not None:
                raise self.failure
            self.child.recycle = size > _RECYCLE_BYTES
            self.child.send(
                {
                    "kind": "read",
                    "size": size,
                    "base_url": base_url,
                    "max_references": max_references,
                    "timeout": max(deadline - time.monotonic(), 0.001),
                },
                blocks(),
                deadline + 1,
            )
            try:
                kind, payload = self.child.frame(
                    self.cancel, "reading the notebook overran the plan's deadline"
                )
            except RenderFailed as error:
                if error.reason != "died" or attempt == 2:
                    raise
                self._replace()
                continue
            if kind != FACTS:
                raise RenderFailed("died", f"the child answered {kind!r}")
            facts = json.loads(payload)
            self.child.frame(self.cancel)  # END
            return facts

    def _replace(self):
        """A new child for one that died."""
        old, self.child = self.child, None
        POOL.give(old)
        try:
            self.child = POOL.take(old.memory)
            self.pid = self.child.pid
        except OSError as error:
            self.failure = RenderFailed("unavailable", f"no child process could start: {error}")

    def render(self, *, images, timeout):
        """Start the render of the notebook read: its HTML copy."""
        self._drained = threading.Event()
        if self.failure is not None:
            self._drained.set()
            return
        self._spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024, prefix="nbext_pkg-")
        self.child.send(
            {"kind": "render", "html": True, "images": sorted(images), "timeout": timeout},
            deadline=time.monotonic() + timeout + 1,
        )
        threading.Thread(target=self._drain, name="nbext_pkg-render", daemon=True).start()

    def _drain(self):
        try:
            while True:
                kind, payload = self.child.frame(self.cancel, "the render overran its time limit")
                if kind in (TEXT, IMAGE):
                    self._spool.write(_FRAME.pack(kind, len(payload)) + payload)
                elif kind == END:
                    break
        except (RenderFailed, Cancelled) as error:
            self.failure = error
        except Exception as error:  # a full spool disk, say: the page is lost, not cut short
            self.failure = RenderFailed("failed", f"the page could not be kept: {error}")
        finally:
            with self._lock:
                child, self.child = self.child, None
                over = self._over
            POOL.give(child)
            if over:
                self._spool.close()
            self._drained.set()

    def _wait(self):
        while not self._drained.wait(0.25):
            if self.cancel.is_set():
                raise Cancelled()

    def pieces(self):
        """The page as ("text", bytes) and ("image", (key, original)) pieces."""
        self._wait()
        if self.failure is not None:
            raise self.failure
        self._spool.seek(0)
        while True:
            head = self._spool.read(_FRAME.size)
            if not head:
                return
            kind, length = _FRAME.unpack(head)
            payload = self._spool.read(length)
            if kind == TEXT:
                yield "text", payload
            else:
                key, original = json.loads(payload)
                yield "image", (key, original)

    def finish(self):
        """Done with the session (twice is once). A child that only read forgets the
        notebook and goes back to the pool; a render still running is ended, and its
        drain lets go of the child and the spool."""
        with self._lock:
            if self._over:
                return
            self._over = True
            child = self.child
            if self._drained is not None:
                if child is not None:
                    child.kill()  # the bundle is over before its render: nobody wants the page
                    return
                spool = self._spool
            else:
                self.child, spool = None, None
        if self._drained is not None:
            if spool is not None:
                spool.close()
            return
        if child is not None and self.failure is None and child.alive():
            try:
                child.send({"kind": "forget"}, deadline=time.monotonic() + 5)
                child.frame(None)
            except (RenderFailed, Cancelled):
                pass
        if child is not None:
            POOL.give(child)
