"""Runs a blocking archive writer in a thread of its own and hands its output to
the event loop in chunks, through a bounded queue.

The loop only moves bytes. Memory stays at a few chunks whatever the bundle's
size: when the client reads slowly the queue fills and the writer waits; when
the client goes away the writer is told within a quarter of a second and stops.
A download whose client takes no bytes for ``idle`` seconds (it stopped reading without
closing) is ended the same way, so a stalled client cannot hold a writer for ever. The
writer's own waits are bounded elsewhere (the plan's deadline, the render's time limit).

Each download has its own threads, one to plan it (``in_thread``) and one to write
it (the number of downloads is bounded by the routes), so no download waits for a
pool that others hold; the notebook's text is read and rendered in child processes.
The threads are daemons: a server told to stop does not wait for them.

The hand-off is a deque guarded by a semaphore (the bound) plus one wake-up of
the loop per chunk; large writes (zipfile passes on whole read blocks) go into
the queue as they are, without being copied into a buffer first.
"""

import asyncio
import collections
import logging
import threading

from tornado import web
from tornado.iostream import StreamClosedError

from .options import Cancelled

QUEUE_CHUNKS = 4
_DONE = object()


class _Failed:
    def __init__(self, error):
        self.error = error


class ChunkSink:
    """A write-only file for the writer thread; full chunks go to the loop."""

    def __init__(self, loop, chunk_size, cancelled, depth=QUEUE_CHUNKS):
        self.loop, self.chunk_size, self.cancelled = loop, chunk_size, cancelled
        self.items = collections.deque()
        self.space = threading.Semaphore(depth)
        self.ready = asyncio.Event()
        self.buffer = bytearray()
        self.sent = 0

    def _wake(self):
        try:
            self.loop.call_soon_threadsafe(self.ready.set)
        except RuntimeError:  # the loop is closed: the server has stopped
            self.cancelled.set()

    def put(self, item):
        """Queue a chunk, waiting while the queue is full; raise Cancelled if the client
        left or the server is shutting down."""
        while not self.space.acquire(timeout=0.25):
            if self.cancelled.is_set() or not self.loop.is_running():
                raise Cancelled()
        if self.cancelled.is_set():
            raise Cancelled()
        self.items.append(item)
        self.sent += len(item)
        self._wake()

    def end(self, item):
        """The writer's last word: goes in even when the queue is full."""
        self.items.append(item)
        self._wake()

    def write(self, data):
        if not self.buffer and len(data) >= self.chunk_size:
            self.put(bytes(data))  # zipfile hands over whole read blocks: no copy for bytes
            return len(data)
        self.buffer += data
        if len(self.buffer) >= self.chunk_size:
            chunk, self.buffer = bytes(self.buffer), bytearray()
            self.put(chunk)
        return len(data)

    def flush(self):
        pass

    def close(self):
        if self.buffer:
            chunk, self.buffer = bytes(self.buffer), bytearray()
            self.put(chunk)

    async def get(self):
        """On the loop: the next item, waiting for the writer when there is none."""
        while not self.items:
            self.ready.clear()
            await self.ready.wait()
        item = self.items.popleft()
        if not (item is _DONE or isinstance(item, _Failed)):
            self.space.release()
        return item

    def drain(self):
        self.items.clear()


def in_thread(work, name="nbext_pkg-plan"):
    """``work()`` in a daemon thread of its own; an asyncio future of its result."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(outcome, value):
        if not future.done():
            (future.set_exception if outcome == "error" else future.set_result)(value)

    def run():
        try:
            outcome, value = "done", work()
        except BaseException as error:  # handed to the loop, which raises it in the request
            outcome, value = "error", error
        try:
            loop.call_soon_threadsafe(settle, outcome, value)
        except RuntimeError:  # the loop is closed: the server has stopped
            pass

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


def watch_connection(handler, cancelled, wake=None):
    """Set ``cancelled`` (and call ``wake``) when the client's connection closes."""

    # Tornado captured the handler's on_connection_close when the handler was made,
    # so replacing that method now would not be seen: register with the connection.
    def closed():
        cancelled.set()
        if wake is not None:
            wake()
        handler.on_connection_close()

    connection = handler.request.connection
    connection.set_close_callback(closed)
    if connection.stream is not None and connection.stream.closed():
        cancelled.set()


async def _flushed(handler, idle):
    """Flush, allowing the client ``idle`` seconds without taking a byte (not: without
    taking the whole chunk, which would make the deadline a minimum speed); False if it
    took none for that long."""
    flushed = asyncio.ensure_future(handler.flush())
    if idle is None:
        await flushed
        return True
    stream = handler.request.connection.stream
    progress = getattr(stream, "_total_write_done_index", None)  # tornado's own count
    while True:
        done, _ = await asyncio.wait({flushed}, timeout=idle)
        if done:
            flushed.result()
            return True
        now = getattr(stream, "_total_write_done_index", None)
        if now is None or now == progress:
            flushed.add_done_callback(lambda f: f.exception())  # retrieved, not raised
            return False
        progress = now


async def stream(handler, work, chunk_size, cancelled=None, idle=None):
    """Call ``work(sink)`` in a thread of its own and write what it produces to ``handler``.
    ``cancelled`` (a threading.Event) stops it early; ``idle`` bounds, in seconds, how long
    the client may take no bytes."""
    loop = asyncio.get_running_loop()
    cancelled = cancelled or threading.Event()
    sink = ChunkSink(loop, chunk_size, cancelled)
    finished = asyncio.Event()

    def run():
        try:
            work(sink)
            sink.close()
            sink.end(_DONE)
        except Cancelled:
            sink.end(_Failed(None))
        except BaseException as error:  # reported to the loop, which ends the response
            sink.end(_Failed(error))
        finally:
            try:
                loop.call_soon_threadsafe(finished.set)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass

    watch_connection(handler, cancelled, sink._wake)
    log = getattr(handler, "log", None) or logging.getLogger("nbext_pkg")
    threading.Thread(target=run, name="nbext_pkg-bundle", daemon=True).start()
    outcome, failure, wrote = "left", None, False
    try:
        while not cancelled.is_set():
            item = await sink.get()
            if cancelled.is_set():
                break
            if item is _DONE:
                outcome = "complete"
                break
            if isinstance(item, _Failed):
                if item.error is not None:
                    outcome, failure = "failed", item.error
                    log.error(
                        "nbext_pkg: bundle failed after %d bytes: %s",
                        sink.sent,
                        item.error,
                        exc_info=item.error,
                    )
                break
            handler.write(item)
            wrote = True
            if not await _flushed(handler, idle):
                outcome = "stalled"
                break
    except StreamClosedError:
        pass
    finally:
        cancelled.set()
        sink.drain()
        await finished.wait()
    if outcome == "complete":
        handler.finish()
        return
    if outcome == "failed" and not wrote:
        # Nothing has gone out yet: the client can still be told, with a status.
        raise web.HTTPError(500, f"The bundle could not be made: {failure}")
    if outcome == "stalled":
        log.warning(
            "nbext_pkg: a bundle download's client took no bytes for %g s after %d bytes; "
            "it was ended and its worker freed (c.NbextPkg.bundle_idle_timeout)",
            idle,
            sink.sent,
        )
    elif outcome == "left":
        log.info("nbext_pkg: the client left after %d bytes; the bundle's worker has stopped", sink.sent)
    # Headers are gone: cut the connection so the client sees a broken download
    # instead of an archive that merely looks complete.
    handler.request.connection.close()
