"""bundlers/render.py and render_child.py: the HTML copy and requirements.txt from a child
process that cannot hold the server's interpreter, overrun its time or its memory, or
outlive a cancelled bundle."""

import json
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


def job(data, *, timeout=60, memory=1024**3, images=(), html=True, requirements=True, cancel=None):
    return render.Job(data, html=html, requirements=requirements, images=set(images),
                      timeout=timeout, memory=memory, cancel=cancel or threading.Event())


def whole_page(j):
    return b"".join(piece for kind, piece in j.pieces() if kind == "text").decode()


@pytest.mark.parametrize("tag, expected", [
    ('<img src="a.png">', ["<img src=\"", ("a.png", "a.png"), "\">"]),
    ("<img alt='x' src='a.png' />", ["<img alt='x' src='", ("a.png", "a.png"), "' />"]),
    ("<IMG SRC=a.png>", ["<IMG SRC=", ("a.png", "a.png"), ">"]),
    ('<img src="a%20b.png?v=1#f">', ['<img src="', ("a b.png", "a%20b.png?v=1#f"), '">']),
    ('<img src="a&amp;b.png">', ['<img src="', ("a&b.png", "a&amp;b.png"), '">']),
    ('<img data-src="a.png" src="c.png">', ['<img data-src="a.png" src="c.png">']),
    ('<imgx src="a.png"><img src="data:a.png">', ['<imgx src="a.png"><img src="data:a.png">']),
    ('<img title="<img src=a.png>" src="a.png">',
     ['<img title="<img src=a.png>" src="', ("a.png", "a.png"), '">']),
    ('<img src="a.png', ['<img src="a.png']),
])
def test_image_sources_are_cut_out_where_the_plan_has_the_image(tag, expected):
    pieces = [p for p in image_pieces(tag, {"a.png", "a b.png", "a&b.png"}) if p != ""]
    assert pieces == expected
    assert "".join(p if isinstance(p, str) else p[1] for p in pieces) == tag


def test_nothing_to_embed_means_no_scan():
    page = "<img " * 100_000
    assert list(image_pieces(page, set())) == [page]


@pytest.mark.parametrize("page", [
    "<!--" * 10_000 + "<img " * 8_000 + "-->",
    "<img " * 100_000,
    '<img src="' * 100_000,
    "<img a" + " b=c" * 100_000 + ">" + '<img src="a.png">' * 50_000,
])
def test_the_scan_is_one_pass_over_hostile_pages(page):
    """Quadratic work over these would take minutes; one pass takes a fraction of a second.
    (The bound is loose on purpose: this is about 'never hangs', the speed is benchmarked.)"""
    started = time.perf_counter()
    out = list(image_pieces(page, {"a.png"}))
    assert time.perf_counter() - started < 5
    assert "".join(p if isinstance(p, str) else p[1] for p in out) == page


def test_requirements_and_the_page_come_back_and_the_child_is_kept_for_the_next():
    first = job(notebook_bytes("# Title", code=["import nbformat"]))
    assert "nbformat==" in first.requirements()
    assert "<h1" in whole_page(first)
    first.finish()
    second = job(notebook_bytes("# Again"), requirements=False)
    assert second.child is first.child, "the warm child was not reused"
    assert "Again" in whole_page(second)
    second.finish()


def test_a_render_past_its_time_limit_is_ended_and_requirements_survive():
    slow = job(notebook_bytes(SLOW_MARKDOWN, code=["import tornado"]), timeout=0.5)
    assert "tornado==" in slow.requirements()
    with pytest.raises(render.RenderFailed) as failed:
        whole_page(slow)
    assert failed.value.reason == "html-timeout"
    slow.finish()
    assert slow.child.proc.poll() is not None
    after = job(notebook_bytes("# fine"))  # a new child takes its place
    assert after.child is not slow.child and "fine" in whole_page(after)
    after.finish()


def test_a_render_past_its_memory_limit_is_dropped():
    # ~120 MB of text in one output: the child holds it several times over.
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output(
        "stream", name="stdout", text="0123456789" * 12_000_000)])]
    big = job(nbformat.writes(nb).encode(), memory=400 * 1024**2, requirements=False)
    with pytest.raises(render.RenderFailed) as failed:
        whole_page(big)
    assert failed.value.reason == "html-too-large"
    big.finish()


def test_nbconvert_failing_costs_the_page_only():
    # The server opens this one with a warning; nbconvert's markdown filter fails on it.
    broken = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "source": "x", "metadata": {}, "execution_count": None, "outputs": [
            {"output_type": "display_data", "data": {"text/markdown": 5}, "metadata": {}}]}]}
    failing = job(json.dumps(broken).encode())
    assert failing.requirements().startswith("# Imported by the notebook")
    with pytest.raises(render.RenderFailed) as failed:
        whole_page(failing)
    assert failed.value.reason == "html-failed"
    failing.finish()


def test_a_cancelled_bundle_ends_its_childs_work_within_a_second():
    cancel = threading.Event()
    slow = job(notebook_bytes(SLOW_MARKDOWN), cancel=cancel, requirements=False)
    threading.Timer(0.3, cancel.set).start()
    started = time.perf_counter()
    with pytest.raises(Cancelled):
        whole_page(slow)
    assert time.perf_counter() - started < 1.5
    assert slow.child.proc.poll() is not None, "the child still runs"
    slow.finish()
