"""The one place that turns (handler, notebook model) into a streamed bundle:
checks, pre-flight plan, headers, the archive in a worker thread, and errors
as HTTP statuses with a sentence for a person."""

import asyncio
from urllib.parse import quote

from tornado import web

from . import html
from .archive import FORMATS
from .build import write_bundle
from .plan import OverLimit, make_plan
from .stream import EXECUTOR, stream

CONTENT_TYPES = {"zip": "application/zip", "tar.gz": "application/gzip"}


def content_disposition(filename):
    """An attachment header that keeps non-ASCII names through proxies (RFC 5987/6266)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def local_root(contents_manager):
    """The folder the contents manager serves from, or None when it is not on this disk."""
    root = getattr(contents_manager, "root_dir", None)
    if root and hasattr(contents_manager, "_get_os_path"):
        return root
    return None


def check_request(model, fmt):
    if fmt not in FORMATS:
        raise web.HTTPError(400, f"Unknown bundle format {fmt!r}: ask for format=zip or format=tar.gz.")
    if model.get("type") != "notebook":
        raise web.HTTPError(400, f"{model.get('path')} is not a notebook: only .ipynb notebooks "
                                 "can be bundled.")


YES, NO = ("1", "true", "yes"), ("0", "false", "no")


def switch(handler, name):
    """A yes/no query argument (``html=0``), on by default; 400 for anything else."""
    value = handler.get_query_argument(name, "1").strip().lower()
    if value not in YES + NO:
        raise web.HTTPError(400, f"{name}={value!r} is neither yes nor no: ask for {name}=1 or {name}=0.")
    return value in YES


async def respond(handler, model, fmt, settings):
    """Answer ``handler``'s request with the bundle of the notebook ``model``.
    ``?html=0`` leaves out the HTML copy, ``?requirements=0`` requirements.txt."""
    import nbformat

    check_request(model, fmt)
    with_html, with_requirements = switch(handler, "html"), switch(handler, "requirements")
    cm = handler.contents_manager
    root = local_root(cm)
    note = None if root else (
        f"The server's contents manager ({type(cm).__name__}) does not keep files on this "
        "machine's disk, so the files the notebook refers to could not be read.")

    def prepare():
        # Serialising a notebook with large outputs takes a while too: off the loop.
        notebook = nbformat.from_dict(model["content"])
        data = nbformat.writes(notebook).encode("utf-8")
        return notebook, data, make_plan(
            notebook, model["path"], root, base_url=handler.base_url,
            allow_hidden=bool(getattr(cm, "allow_hidden", False)),
            max_bytes=settings.max_bundle_bytes, max_files=settings.max_bundle_files,
            notebook_size=len(data), files_note=note)

    try:
        notebook, notebook_bytes, plan = await asyncio.get_running_loop().run_in_executor(
            EXECUTOR, prepare)
    except OverLimit as error:
        raise web.HTTPError(413, str(error)) from None
    # Rendering takes a while; it runs beside the files and goes in last.
    html_copy = EXECUTOR.submit(html.render, notebook, plan.images) if with_html else None

    handler.set_header("Content-Type", CONTENT_TYPES[fmt])
    handler.set_header("Content-Disposition", content_disposition(f"{plan.top}.{fmt}"))
    handler.set_header("Cache-Control", "no-store")
    handler.set_header("X-Content-Type-Options", "nosniff")

    def write(sink):
        write_bundle(sink, fmt, plan, notebook, notebook_bytes, html_copy and html_copy.result,
                     requirements=with_requirements)

    await stream(handler, write, settings.bundle_chunk_bytes)
