"""The worker-to-loop hand-off of bundles, against a real tornado server in
this process: order and completeness, a bounded queue, a worker that fails
after the headers went out, and a client that leaves."""

import asyncio
import socket
import threading

import pytest
import requests
from harness import free_port, wait_until
from tornado import httpserver, web

from nbext_pkg.bundlers import stream as stream_mod

CHUNK = 64 * 1024


class Probe:
    """What the worker saw: how far it got and whether it was stopped."""

    def __init__(self):
        self.written = 0
        self.cancelled = threading.Event()
        self.finished = threading.Event()
        self.stalled = threading.Event()
        self.max_ahead = 0


def make_work(probe, kind):
    def work(sink):
        try:
            if kind == "early":
                raise OSError("nothing could be read")
            for i in range(400):
                block = bytes([i % 251]) * (CHUNK // 2 if i % 3 else CHUNK * 2)
                sink.write(block)
                probe.written += len(block)
                probe.max_ahead = max(probe.max_ahead, len(sink.items))
                if kind == "fail" and i == 20:
                    raise OSError("disk went away")
                if kind == "stall" and i == 0:
                    probe.stalled.set()
                    # Busy elsewhere (rendering, say), not writing: only the
                    # connection-close hook can tell this worker that nobody is left.
                    if sink.cancelled.wait(10):
                        probe.cancelled.set()
                        return
        except stream_mod.Cancelled:
            probe.cancelled.set()
            raise
        finally:
            probe.finished.set()

    return work


def expected_body():
    return b"".join(bytes([i % 251]) * (CHUNK // 2 if i % 3 else CHUNK * 2) for i in range(400))


@pytest.fixture(scope="module")
def app_server():
    probes = {}

    class Handler(web.RequestHandler):
        async def get(self, kind):
            probe = probes[kind] = Probe()
            if kind in ("trickle", "halt"):  # small buffers: a slow client is felt at once
                self.request.connection.stream.socket.setsockopt(
                    socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024
                )
            # "trickle" clients read steadily but below a chunk a second: not idle.
            await stream_mod.stream(
                self, make_work(probe, kind), CHUNK, idle=1.0 if kind in ("trickle", "halt") else None
            )

    ready, port = threading.Event(), free_port()
    state = {}

    def serve():
        async def main():
            server = httpserver.HTTPServer(web.Application([(r"/(\w+)", Handler)]))
            server.listen(port, "127.0.0.1")
            state["stop"] = asyncio.Event()
            ready.set()
            await state["stop"].wait()
            server.stop()

        state["loop"] = asyncio.new_event_loop()
        state["loop"].run_until_complete(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    yield f"http://127.0.0.1:{port}", probes
    state["loop"].call_soon_threadsafe(state["stop"].set)
    thread.join(10)


def test_everything_arrives_in_order(app_server):
    url, probes = app_server
    response = requests.get(url + "/ok", timeout=30)
    assert response.status_code == 200
    assert response.content == expected_body()
    assert probes["ok"].finished.is_set() and not probes["ok"].cancelled.is_set()


def test_the_queue_stays_bounded_while_the_client_waits(app_server):
    url, probes = app_server
    response = requests.get(url + "/slow", stream=True, timeout=30)
    body = response.raw.read(CHUNK)
    # The client stops reading: the worker fills the socket buffers and the queue, then waits.
    wait_until(lambda: probes["slow"].max_ahead >= stream_mod.QUEUE_CHUNKS, 10, "the queue to fill")
    assert not probes["slow"].finished.is_set()
    assert probes["slow"].max_ahead <= stream_mod.QUEUE_CHUNKS
    body += response.raw.read()
    assert body == expected_body()


def test_a_worker_that_fails_mid_way_breaks_the_download(app_server):
    url, probes = app_server
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        _ = requests.get(url + "/fail", timeout=30).content
    assert probes["fail"].finished.is_set()
    assert requests.get(url + "/ok", timeout=30).status_code == 200  # still serving


def test_a_client_that_leaves_stops_the_worker_within_a_second(app_server):
    url, probes = app_server
    response = requests.get(url + "/gone", stream=True, timeout=30)
    response.raw.read(CHUNK)
    wait_until(lambda: probes["gone"].max_ahead >= stream_mod.QUEUE_CHUNKS, 10, "the queue to fill")
    response.close()
    assert probes["gone"].cancelled.wait(1.0), "the worker was not told within a second"
    assert probes["gone"].finished.wait(1.0)


def test_a_client_that_leaves_while_the_worker_is_busy_is_noticed(app_server):
    url, probes = app_server
    response = requests.get(url + "/stall", stream=True, timeout=30)
    response.raw.read(1024)
    assert probes["stall"].stalled.wait(5)
    response.close()
    assert probes["stall"].cancelled.wait(1.0), "the worker was not told within a second"


def test_a_failure_before_the_first_byte_is_an_http_error(app_server):
    url, probes = app_server
    response = requests.get(url + "/early", timeout=30)
    assert response.status_code == 500
    assert probes["early"].finished.is_set()


def test_a_slow_but_steady_client_is_not_idle(app_server):
    """The idle deadline is about taking no bytes, not about taking a chunk in time:
    this client takes each 64 KiB chunk in about 1.3 s, longer than the 1 s allowed."""
    url, probes = app_server
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    client.connect(("127.0.0.1", int(url.rsplit(":", 1)[1])))
    client.sendall(b"GET /trickle HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    received, pause = 0, threading.Event()
    while received < 4 * CHUNK:
        piece = client.recv(16 * 1024)
        assert piece, "the server cut a client that kept reading"
        received += len(piece)
        pause.wait(0.33)  # the client's own pace: about 48 KiB/s
    client.close()
    assert not probes["trickle"].cancelled.is_set() or received >= 4 * CHUNK


def test_a_client_that_takes_no_bytes_is_cut_at_the_idle_deadline(app_server):
    url, probes = app_server
    response = requests.get(url + "/halt", stream=True, timeout=30)
    response.raw.read(CHUNK)
    assert probes["halt"].cancelled.wait(10) or probes["halt"].finished.wait(10)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for _ in response.iter_content(1024 * 1024):
            pass
