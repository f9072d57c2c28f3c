"""Runs a blocking archive writer in a worker thread and hands its output to
the event loop in chunks, through a bounded queue.

The loop only moves bytes. Memory stays at a few chunks whatever the bundle's
size: when the client reads slowly the queue fills and the worker waits; when
the client goes away the worker is told within a quarter of a second and stops.
"""

import asyncio
import concurrent.futures
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

    def __init__(self, loop, queue, chunk_size, cancelled):
        self.loop, self.queue, self.chunk_size, self.cancelled = loop, queue, chunk_size, cancelled
        self.buffer = bytearray()
        self.sent = 0

    def put(self, item):
        if self.cancelled.is_set():
            raise Cancelled()
        future = asyncio.run_coroutine_threadsafe(self.queue.put(item), self.loop)
        while True:
            try:
                return future.result(timeout=0.25)
            except concurrent.futures.TimeoutError:
                if self.cancelled.is_set():
                    future.cancel()
                    raise Cancelled() from None

    def write(self, data):
        self.buffer += data
        while len(self.buffer) >= self.chunk_size:
            chunk = bytes(self.buffer[: self.chunk_size])
            del self.buffer[: self.chunk_size]
            self.put(chunk)
            self.sent += len(chunk)
        return len(data)

    def flush(self):
        pass

    def close(self):
        if self.buffer:
            self.put(bytes(self.buffer))
            self.sent += len(self.buffer)
            self.buffer.clear()


async def stream(handler, work, chunk_size):
    """Call ``work(sink)`` in a worker thread and write what it produces to ``handler``."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue(maxsize=QUEUE_CHUNKS)
    cancelled = threading.Event()
    sink = ChunkSink(loop, queue, chunk_size, cancelled)

    def run():
        try:
            work(sink)
            sink.close()
            sink.put(_DONE)
        except Cancelled:
            return
        except Exception as error:  # reported to the loop, which ends the response
            if not cancelled.is_set():
                try:
                    sink.put(_Failed(error))
                except Cancelled:
                    pass

    # Tornado calls this when the client hangs up, even while nothing is being written.
    previous = handler.on_connection_close

    def closed():
        cancelled.set()
        previous()

    handler.on_connection_close = closed
    log = handler.log
    worker = loop.run_in_executor(EXECUTOR, run)
    complete = False
    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, worker}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():  # the worker stopped without a last word: cancelled
                getter.cancel()
                raise StreamClosedError()
            item = getter.result()
            if item is _DONE:
                complete = True
                break
            if isinstance(item, _Failed):
                # Headers are gone: cut the connection so the client sees a broken
                # download instead of an archive that merely looks complete.
                log.error("nbext_pkg: bundle failed after %d bytes: %s", sink.sent, item.error,
                          exc_info=item.error)
                handler.request.connection.close()
                return
            handler.write(item)
            await handler.flush()
    except StreamClosedError:
        pass
    finally:
        cancelled.set()
        while not queue.empty():  # let a worker blocked on a full queue see the cancel
            queue.get_nowait()
        await worker
    if complete:
        handler.finish()
    else:
        log.info("nbext_pkg: the client left after %d bytes; the bundle's worker has stopped",
                 sink.sent)
