"""Runs a blocking archive writer in a worker thread and hands its output to
the event loop in chunks, through a bounded queue.

The loop only moves bytes. Memory stays at a few chunks whatever the bundle's
size: when the client reads slowly the queue fills and the worker waits; when
the client goes away the worker is told within a quarter of a second and stops.

The hand-off is a deque guarded by a semaphore (the bound) plus one wake-up of
the loop per chunk; large writes (zipfile passes on whole read blocks) go into
the queue as they are, without being copied into a buffer first.
"""

import asyncio
import collections
import concurrent.futures
import logging
import threading

from tornado.iostream import StreamClosedError

EXECUTOR = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="nbext_pkg")
QUEUE_CHUNKS = 4
_DONE = object()


class Cancelled(Exception):
    """The client left; the worker stops writing."""


class _Failed:
    def __init__(self, error):
        self.error = error


class ChunkSink:
    """A write-only file for the worker thread; full chunks go to the loop."""

    def __init__(self, loop, chunk_size, cancelled, depth=QUEUE_CHUNKS):
        self.loop, self.chunk_size, self.cancelled = loop, chunk_size, cancelled
        self.items = collections.deque()
        self.space = threading.Semaphore(depth)
        self.ready = asyncio.Event()
        self.buffer = bytearray()
        self.sent = 0

    def _wake(self):
        self.loop.call_soon_threadsafe(self.ready.set)

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
        """The worker's last word: goes in even when the queue is full."""
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
        """On the loop: the next item, waiting for the worker when there is none."""
        while not self.items:
            self.ready.clear()
            await self.ready.wait()
        item = self.items.popleft()
        if not (item is _DONE or isinstance(item, _Failed)):
            self.space.release()
        return item

    def drain(self):
        self.items.clear()


async def stream(handler, work, chunk_size):
    """Call ``work(sink)`` in a worker thread and write what it produces to ``handler``."""
    loop = asyncio.get_running_loop()
    cancelled = threading.Event()
    sink = ChunkSink(loop, chunk_size, cancelled)

    def run():
        try:
            work(sink)
            sink.close()
            sink.end(_DONE)
        except Cancelled:
            sink.end(_Failed(None))
        except Exception as error:  # reported to the loop, which ends the response
            sink.end(_Failed(error))

    # Tornado captured the handler's on_connection_close when the handler was made,
    # so replacing that method now would not be seen: register with the connection.
    def closed():
        cancelled.set()
        sink._wake()
        handler.on_connection_close()

    connection = handler.request.connection
    connection.set_close_callback(closed)
    if connection.stream is not None and connection.stream.closed():
        cancelled.set()
    log = getattr(handler, "log", None) or logging.getLogger("nbext_pkg")
    worker = loop.run_in_executor(EXECUTOR, run)
    complete = False
    try:
        while not cancelled.is_set():
            item = await sink.get()
            if item is _DONE:
                complete = True
                break
            if isinstance(item, _Failed):
                if item.error is None or cancelled.is_set():
                    break
                # Headers are gone: cut the connection so the client sees a broken
                # download instead of an archive that merely looks complete.
                log.error("nbext_pkg: bundle failed after %d bytes: %s", sink.sent, item.error,
                          exc_info=item.error)
                handler.request.connection.close()
                cancelled.set()
                await worker
                return
            handler.write(item)
            await handler.flush()
    except StreamClosedError:
        pass
    finally:
        cancelled.set()
        sink.drain()
        await worker
    if complete:
        handler.finish()
    else:
        log.info("nbext_pkg: the client left after %d bytes; the bundle's worker has stopped",
                 sink.sent)
