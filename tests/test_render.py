"""bundlers/render.py and render_child.py: the notebook's facts (its references and
imports) and the HTML copy from a child process that cannot hold the server's interpreter, overrun its time
or its memory, or outlive a cancelled bundle (or the server)."""

import json
import os
import threading
import time

import nbformat
import pytest

from nbext_pkg.bundlers import render
from nbext_pkg.bundlers.options import Cancelled
from nbext_pkg.bundlers.render_child import image_pieces

# nbconvert's own strip_files_prefix regex takes seconds over this (in the child).
SLOW_MARKDOWN = "![a](b " * 6000


def notebook_bytes(*markdown, code=()):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(m) for m in markdown]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in code]
    return nbformat.writes(nb).encode("utf-8")


def job(data, *, timeout=60, memory=1024**3, images=(), cancel=None):
    """A session that has read ``data`` and started rendering it."""
    session = render.Session(memory, cancel or threading.Event())
    session.facts = session.read(
        len(data), lambda: [data], base_url="/", max_references=100, deadline=time.monotonic() + 60
    )
    session.render(images=set(images), timeout=timeout)
    return session


def pid_alive(pid):
    """Whether a process runs (a zombie does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def whole_page(j):
    return b"".join(piece for kind, piece in j.pieces() if kind == "text").decode()


@pytest.mark.parametrize(
    "tag, expected",
    [
        ('<img src="a.png">', ['<img src="', ("a.png", "a.png"), '">']),
        ("<img alt='x' src='a.png' />", ["<img alt='x' src='", ("a.png", "a.png"), "' />"]),
        ("<IMG SRC=a.png>", ["<IMG SRC=", ("a.png", "a.png"), ">"]),
        ('<img src="a%20b.png?v=1#f">', ['<img src="', ("a b.png", "a%20b.png?v=1#f"), '">']),
        ('<img src="a&amp;b.png">', ['<img src="', ("a&b.png", "a&amp;b.png"), '">']),
        ('<img data-src="a.png" src="c.png">', ['<img data-src="a.png" src="c.png">']),
        ('<imgx src="a.png"><img src="data:a.png">', ['<imgx src="a.png"><img src="data:a.png">']),
        (
            '<img title="<img src=a.png>" src="a.png">',
            ['<img title="<img src=a.png>" src="', ("a.png", "a.png"), '">'],
        ),
        ('<img src="a.png', ['<img src="a.png']),
    ],
)
def test_image_sources_are_cut_out_where_the_plan_has_the_image(tag, expected):
    pieces = [p for p in image_pieces(tag, {"a.png", "a b.png", "a&b.png"}) if p != ""]
    assert pieces == expected
    assert "".join(p if isinstance(p, str) else p[1] for p in pieces) == tag


def test_nothing_to_embed_means_no_scan():
    page = "<img " * 100_000
    assert list(image_pieces(page, set())) == [page]


@pytest.mark.parametrize(
    "page",
    [
        "<!--" * 10_000 + "<img " * 8_000 + "-->",
        "<img " * 100_000,
        '<img src="' * 100_000,
        "<img a" + " b=c" * 100_000 + ">" + '<img src="a.png">' * 50_000,
    ],
)
def test_the_scan_is_one_pass_over_hostile_pages(page):
    """Quadratic work over these would take minutes; one pass takes a fraction of a second.
    (The bound is loose on purpose: this is about 'never hangs', the speed is benchmarked.)"""
    started = time.perf_counter()
    out = list(image_pieces(page, {"a.png"}))
    assert time.perf_counter() - started < 5
    assert "".join(p if isinstance(p, str) else p[1] for p in out) == page


def test_the_imports_and_the_page_come_back_and_the_child_is_kept_for_the_next():
    first = job(notebook_bytes("# Title", code=["import nbformat, os", "from tornado import web"]))
    assert first.facts["imports"] == ["nbformat", "os", "tornado"]
    assert "<h1" in whole_page(first)
    first.finish()
    second = job(notebook_bytes("# Again"))
    assert second.pid == first.pid, "the warm child was not reused"
    assert "Again" in whole_page(second)
    second.finish()


def test_a_render_past_its_time_limit_is_ended_and_the_facts_survive():
    slow = job(notebook_bytes(SLOW_MARKDOWN, code=["import tornado"]), timeout=0.5)
    assert slow.facts["imports"] == ["tornado"]
    with pytest.raises(render.RenderFailed) as failed:
        whole_page(slow)
    assert failed.value.reason == "timeout"
    slow.finish()
    from harness import wait_until

    # SIGKILL went out at the timeout; a loaded machine may take a moment to run it.
    wait_until(lambda: not pid_alive(slow.pid), 5, "the timed-out child to be ended")
    after = job(notebook_bytes("# fine"))  # a new child takes its place
    assert after.pid != slow.pid and "fine" in whole_page(after)
    after.finish()


def big_output(mib):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "x",
            outputs=[nbformat.v4.new_output("stream", name="stdout", text="0123456789" * (mib * 100_000))],
        )
    ]
    return nbformat.writes(nb).encode()


def test_a_render_past_its_memory_limit_is_dropped():
    # 30 MB of text in one output reads in 300 MiB of address space; rendering it needs more.
    big = job(big_output(30), memory=300 * 1024**2)
    with pytest.raises(render.RenderFailed) as failed:
        whole_page(big)
    assert failed.value.reason == "too-large"
    big.finish()


def test_a_notebook_too_large_to_read_is_refused():
    session = render.Session(300 * 1024**2, threading.Event())
    data = big_output(120)
    with pytest.raises(render.RenderFailed) as failed:
        session.read(
            len(data), lambda: [data], base_url="/", max_references=10, deadline=time.monotonic() + 60
        )
    session.finish()
    assert failed.value.reason == "too-large"


def test_nbconvert_failing_costs_the_page_only():
    # The server opens this one with a warning; nbconvert's markdown filter fails on it.
    broken = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {
                "cell_type": "code",
                "source": "x",
                "metadata": {},
                "execution_count": None,
                "outputs": [{"output_type": "display_data", "data": {"text/markdown": 5}, "metadata": {}}],
            }
        ],
    }
    failing = job(json.dumps(broken).encode())
    assert failing.facts["imports"] == []
    with pytest.raises(render.RenderFailed) as failed:
        whole_page(failing)
    assert failed.value.reason == "failed"
    failing.finish()


def test_a_cancelled_bundle_ends_its_childs_work_within_a_second():
    cancel = threading.Event()
    slow = job(notebook_bytes(SLOW_MARKDOWN), cancel=cancel)
    threading.Timer(0.3, cancel.set).start()
    started = time.perf_counter()
    with pytest.raises(Cancelled):
        whole_page(slow)
    assert time.perf_counter() - started < 1.5
    slow.finish()
    from harness import wait_until

    wait_until(lambda: not pid_alive(slow.pid), 1, "the child to be ended")


def test_the_notebooks_facts_come_from_the_child():
    nb = nbformat.v4.new_notebook()
    nb.metadata["nbext_pkg"] = {
        "bundle": {"html": False, "format": "tar.gz", "odd": [1]},
        "exclude": ["*.tmp"],
    }
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_markdown_cell("![a](a.png) " + "[x](x%d.csv) " * 5 % tuple(range(5)))]
    data = nbformat.writes(nb).encode()
    session = render.Session(1024**3, threading.Event())
    facts = session.read(
        len(data), lambda: [data], base_url="/", max_references=3, deadline=time.monotonic() + 60
    )
    session.finish()
    assert facts["references"] == [
        ["a.png", "a.png", False, "markdown"],
        ["x0.csv", "x0.csv", False, "markdown"],
        ["x1.csv", "x1.csv", False, "markdown"],
    ]
    assert facts["more_references"] == 3
    assert facts["excludes"] == ["*.tmp"]
    assert facts["bundle"] == {"html": False, "format": "tar.gz"}
    assert facts["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize(
    "data, words",
    [
        (b"\x00" * 100_000_000, "not JSON: Expecting value: line 1 column 1 (char 0)"),
        (b"{ not json", "not JSON: Expecting property name"),
        ('{"cells": "\xe9"}'.encode("latin-1"), "not JSON"),
        (b"[1, 2]", "its JSON is not an object"),
        (b'{"nbformat": 9}', "nbformat 9 is not one nbformat knows"),
    ],
)
def test_a_notebook_the_child_cannot_read_says_why(data, words):
    session = render.Session(1024**3, threading.Event())
    with pytest.raises(render.RenderFailed) as failed:
        session.read(
            len(data), lambda: [data], base_url="/", max_references=10, deadline=time.monotonic() + 60
        )
    session.finish()
    assert failed.value.reason == "failed" and words in str(failed.value)
    assert len(str(failed.value)) < 400


def test_no_child_outlives_the_server(tmp_path):
    """However the server ends (SIGKILL here), its children end with it, even one busy
    inside a long regular expression."""
    import os
    import signal
    import subprocess
    import sys

    script = tmp_path / "server.py"
    script.write_text(
        "import sys, threading, time, nbformat\n"
        "from nbext_pkg.bundlers import render\n"
        f"data = {notebook_bytes(SLOW_MARKDOWN * 2)!r}\n"  # about 20 s of nbconvert
        "def work():\n"
        "    s = render.Session(1 << 30, threading.Event())\n"
        "    s.read(len(data), lambda: [data], base_url='/', max_references=10,\n"
        "           deadline=time.monotonic() + 60)\n"
        "    s.render(images=set(), timeout=60)\n"
        "    print(s.pid, flush=True)\n"
        "    sys.stdin.read()  # lives until the test kills it\n"
        # Joined: from Python 3.12 a thread may start no other once the main one has ended.
        "worker = threading.Thread(target=work)\nworker.start()\nworker.join()\n"
    )
    server = subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    child = int(server.stdout.readline())
    os.kill(server.pid, signal.SIGKILL)
    server.wait()

    def gone():
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        with open(f"/proc/{child}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"

    from harness import wait_until

    wait_until(gone, 5, "the child to end with its server")


def test_letters_whose_lower_case_is_longer_do_not_shift_the_cut():
    page = 'İİİ <img src="a.png"> <İMG src="a.png">'
    pieces = list(image_pieces(page, {"a.png"}))
    assert ("a.png", "a.png") in pieces
    assert "".join(p if isinstance(p, str) else p[1] for p in pieces) == page


def test_a_dead_idle_child_or_zygote_is_replaced_for_the_next_bundle():
    import os
    import signal

    data = notebook_bytes("# x")
    first = job(data)
    whole_page(first)
    first.finish()
    os.kill(first.pid, signal.SIGKILL)  # the pooled child dies while idle
    second = job(data)
    assert second.pid != first.pid and "x" in whole_page(second)
    second.finish()
    os.kill(render._ZYGOTE["zygote"].proc.pid, signal.SIGKILL)  # and now the zygote
    from harness import wait_until

    wait_until(lambda: not pid_alive(second.pid), 5, "the zygote's children to end with it")
    third = job(data)
    assert "x" in whole_page(third)
    third.finish()


def test_children_read_and_render_past_descriptor_1024():
    """select() cannot watch a descriptor numbered 1024 or more; a busy server has those."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    held = []
    try:
        while not held or held[-1] < 1100:
            held.append(os.open("/dev/null", os.O_RDONLY))
        session = job(notebook_bytes("# many fds"))
        assert session.pid and "many fds" in whole_page(session)
        session.finish()
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
