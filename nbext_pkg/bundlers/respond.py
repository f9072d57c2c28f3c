"""The tornado side of a bundle download, for every route that makes one: the
request's options, the server's limit on bundles at once, the notebook read by the
rules its files obey, the plan off the event loop, headers, the stream, and errors as
HTTP statuses with a sentence for a person (never a closed connection before the
first byte)."""

import asyncio
import inspect
import json
import posixpath
import re
import stat
import time
from urllib.parse import quote

from tornado import web

from ..config import settings_of
from . import options as options_mod
from . import saving
from .archive import FORMATS
from .contents import ContentsTree, Store, mixed_routes, on_loop
from .pipeline import NotBundled, local_tree, notebook_path, prepare, too_large
from .ranges import Unsatisfiable, requested
from .reader import Reader
from .selection import prepare_selection, selection_folder, ticked_names
from .stream import in_thread, stream, watch_connection

CONTENT_TYPES = {"zip": "application/zip", "tar": "application/x-tar", "tar.gz": "application/gzip"}
assert set(CONTENT_TYPES) == set(FORMATS)


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


async def _resolved(value):
    """Await ``value`` when the contents manager returned an awaitable (jupyter_server's
    are asynchronous; notebook 6's usually are not)."""
    if inspect.isawaitable(value):
        return await value
    return value


async def contents_get(cm, path, **kwargs):
    """``cm.get(path, **kwargs)``, awaited in a task of its own.

    jupyter_server's asynchronous contents managers read the disk on an AnyIO
    worker thread, which AnyIO stops only when the task that started it ends.
    Started from a bundle's request, that task lasts as long as the download;
    one still running when the server is told to stop would keep the process
    alive for ever. A short task of its own ends as soon as the model is read.
    """
    return await asyncio.ensure_future(_resolved(cm.get(path, **kwargs)))


def _nbconfig_layers(handler):
    """The ``nbext_pkg`` keys of the notebook and common nbconfig sections (the page's
    own settings), for requests that do not say (the stock menu entry's URL)."""
    manager = handler.settings.get("config_manager")
    if manager is None:
        return ()
    layers = []
    for section in ("notebook", "common"):
        try:
            data = manager.get(section)
        except Exception:  # an unreadable config file: the defaults stand
            data = {}
        layers.append((data or {}).get("nbext_pkg") or {})
    return layers


# How long past its deadline a plan is waited for before the request gives up on it.
PLAN_GRACE = 5.0


async def _planned(future, options):
    """The plan's result. A plan stuck in a call that never returns (a synchronous
    contents manager that hangs) cannot be interrupted: the request gives up on it when
    the client leaves or past the plan's deadline, answering and freeing its slot, and
    a bundle the thread still makes later is discarded."""
    given_up = time.monotonic() + options.plan_timeout + PLAN_GRACE
    while True:
        done, _ = await asyncio.wait({future}, timeout=0.25)
        if done:
            return future.result()
        if options.cancel.is_set() or time.monotonic() > given_up:
            break

    def discard_late(late):
        if not late.cancelled() and late.exception() is None:
            in_thread(late.result().discard, "nbext_pkg-discard")

    future.add_done_callback(discard_late)
    if options.cancel.is_set():
        raise options_mod.Cancelled()
    raise options_mod.PlanTimeout(
        f"The storage did not answer within the plan's {options.plan_timeout:g} s "
        "(c.NbextPkg.bundle_plan_timeout): try again later."
    )


class Busy(web.HTTPError):
    """503 with the Retry-After header the routes' ``write_error`` sends along."""

    headers = {"Retry-After": "10"}


class _Slot:
    """One of the server's ``max_concurrent_bundles``, held for a whole download."""

    def __init__(self, settings):
        self.settings = settings

    def __enter__(self):
        if self.settings.active_bundles >= self.settings.max_concurrent_bundles:
            raise Busy(
                503,
                f"The server is already making {self.settings.active_bundles} bundles, its "
                "limit (c.NbextPkg.max_concurrent_bundles): try again in a few seconds.",
            )
        self.settings.active_bundles += 1
        return self

    def __exit__(self, *exc):
        self.settings.active_bundles -= 1


async def respond(handler, path, save=False):
    """Answer ``handler``'s GET (or HEAD: the same headers, no archive made) with the
    bundle of the notebook at ``path`` (as the URL names it, decoded once); with ``save``
    (a POST), write it beside the notebook instead."""
    settings = settings_of(handler.settings)
    try:
        # A GET's choices are in its query; a POST's may be in its body too.
        asked = options_mod.from_query(handler.get_argument if save else handler.get_query_argument)
    except options_mod.BadOption as error:
        raise web.HTTPError(400, str(error)) from None
    cm = handler.contents_manager
    allow_hidden = bool(getattr(cm, "allow_hidden", False))
    try:
        rel = notebook_path(path, allow_hidden)
    except NotBundled as error:
        raise web.HTTPError(error.status, str(error)) from None
    with _Slot(settings):
        await _respond(handler, settings, asked, cm, rel, allow_hidden, save=save)


def kernel_specs(handler):
    """The server's kernelspec lookup, for the plan's thread (environment.py): the kernel
    spec manager's own, whose kernelspecs are the ones the server starts. A manager that
    answers only on the event loop (a gateway's) gives nothing: the server's environment
    is asked instead."""
    manager = handler.settings.get("kernel_spec_manager")
    if manager is None:
        return None

    def lookup(name):
        found = manager.get_kernel_spec(name)
        if inspect.isawaitable(found):
            getattr(found, "close", lambda: None)()
            return None
        return found

    return lookup


def options_for(handler, settings, allow_hidden):
    """The Options of one request: the server's limits, its base URL and kernelspecs."""
    options = options_mod.Options.from_settings(
        settings, base_url=handler.base_url, allow_hidden=allow_hidden
    )
    options.kernel_specs = kernel_specs(handler)
    return options


def _store(cm, options):
    # The manager is called from the plan's thread: a synchronous one (pgcontents,
    # s3contents) would hold the event loop; an asynchronous one runs on it.
    return Store(
        cm,
        run=on_loop(
            asyncio.get_running_loop(), options.cancel, check=options.check, timeout=options.plan_timeout
        ),
    )


def _tree(cm, root, store, options, reader):
    """The root as one plan reads it: this disk, or the contents manager."""
    if root is not None:
        return local_tree(root, options)
    return ContentsTree(
        store,
        allow_hidden=options.allow_hidden,
        check=options.check,
        routes=mixed_routes(cm, local_root),
        file_limit=options.max_contents_file_bytes,
        max_listings=options.max_files + 1,
        reader=reader,
    )


def _planning(cm, root, settings, make):
    """A callable for the plan's thread: ``make(reader)`` with a reading process started
    first (for a store off this disk), which makes itself ready while the plan is made."""

    def run():
        reader = Reader.for_manager(cm, settings.contents_reader) if root is None else None
        try:
            return make(reader)
        except BaseException:
            if reader is not None:
                reader.done()
            raise

    return run


async def _plan(handler, options, planning):
    """The planned bundle, or the HTTP error that says why not; None when the client left."""
    try:
        bundle = await _planned(in_thread(planning), options)
    except NotBundled as error:
        raise web.HTTPError(error.status, str(error)) from None
    except options_mod.PlanTimeout as error:
        raise web.HTTPError(413, str(error)) from None
    except options_mod.Cancelled:
        handler.log.info("nbext_pkg: the client left while its bundle was planned; planning stopped")
        return None
    if options.cancel.is_set():
        in_thread(bundle.discard, "nbext_pkg-discard")  # it may wait on the child: not here
        return None
    return bundle


async def _deliver(handler, settings, options, bundle):
    """Headers, then the archive (or only the headers, for HEAD)."""
    try:
        start, end = _headers(handler, bundle)
    except BaseException:
        in_thread(bundle.discard, "nbext_pkg-discard")
        raise
    if handler.request.method == "HEAD":
        in_thread(bundle.discard, "nbext_pkg-discard")
        handler.finish()
        return
    await stream(
        handler,
        lambda sink: bundle.write(sink, start, end),
        settings.bundle_chunk_bytes,
        options.cancel,
        idle=settings.bundle_idle_timeout,
    )


def _begin(handler, settings, cm, allow_hidden, save):
    """(options, the disk root or None, the store) of one request, watching its connection;
    a save where the files are not on this disk is refused here."""
    options = options_for(handler, settings, allow_hidden)
    watch_connection(handler, options.cancel)
    root = local_root(cm)
    if save and root is None:
        raise web.HTTPError(400, NOT_ON_DISK)
    return options, root, _store(cm, options)


async def _respond(handler, settings, asked, cm, rel, allow_hidden, save=False):
    options, root, store = _begin(handler, settings, cm, allow_hidden, save)

    def make(reader):
        # Ask for the type first: a large data file must not be read just to be refused.
        model = store.call("get", rel, content=False)
        if model.get("type") != "notebook":
            raise NotBundled(400, f"{rel} is not a notebook: only .ipynb notebooks can be bundled.")
        ours = root is not None and rel.endswith(".ipynb")
        if not ours and isinstance(model.get("size"), int):
            too_large(rel, model["size"], options)  # before a manager reads it whole
        if not ours and rel.endswith(".ipynb"):
            # As a file: the notebook's text as stored, for the reading child to parse.
            # (As a notebook, the manager would check its signature with the notary,
            # whose SQLite connection belongs to the event loop's thread.)
            model = store.call("get", rel, content=True, type="file", format="text")
        elif not ours:  # a notebook the manager makes from another file (jupytext)
            model = store.on_loop("get", rel, content=True, type="notebook")
        layers = _nbconfig_layers(handler) if len(asked) < len(options_mod.DEFAULTS) else ()
        tree = _tree(cm, root, store, options, reader)
        return prepare(
            rel,
            options,
            tree=tree,
            model=None if ours else model,
            asked=asked,
            layers=layers,
            storage=store.name,
            sized_up=not save,
        )

    bundle = await _plan(handler, options, _planning(cm, root, settings, make))
    if bundle is None:
        return
    if save:
        await _save(handler, bundle, root, posixpath.dirname(rel))
    else:
        await _deliver(handler, settings, options, bundle)


NOT_ON_DISK = (
    "This server keeps its files in a contents manager off its own disk, so a bundle "
    "cannot be saved into the workspace here: download it instead."
)


def selected(handler):
    """(folder, names) a selection request names: ``folder`` as the page shows it, and
    ``names`` a JSON list of names in it (in the request's body: hundreds of names do not
    fit in a URL)."""
    folder = handler.get_argument("folder", "", strip=False)  # "proj " is not "proj"
    raw = handler.get_argument("names", None)
    try:
        names = json.loads(raw) if raw is not None else None
    except ValueError:
        names = None
    if not isinstance(names, list):
        raise web.HTTPError(
            400,
            'Say what to bundle: names=["a.ipynb", "data"] (a JSON list '
            "of names in the folder), with folder=<the folder>.",
        )
    return folder, names


async def respond_selection(handler, save=False):
    """Answer a POST with the bundle of what is ticked in a folder of the tree page
    (selection.py): downloaded, or with ``save`` written into that folder."""
    settings = settings_of(handler.settings)
    try:
        asked = options_mod.from_query(handler.get_argument)
    except options_mod.BadOption as error:
        raise web.HTTPError(400, str(error)) from None
    folder, names = selected(handler)
    cm = handler.contents_manager
    allow_hidden = bool(getattr(cm, "allow_hidden", False))
    try:
        folder_rel = selection_folder(folder, allow_hidden)
        ticked_names(names)
    except NotBundled as error:
        raise web.HTTPError(error.status, str(error)) from None
    with _Slot(settings):
        options, root, store = _begin(handler, settings, cm, allow_hidden, save)

        def make(reader):
            # The page's settings are read here, off the event loop, as for a notebook's bundle.
            layers = _nbconfig_layers(handler) if len(asked) < len(options_mod.DEFAULTS) else ()
            return prepare_selection(
                folder_rel,
                names,
                options,
                tree=_tree(cm, root, store, options, reader),
                asked=asked,
                layers=layers,
                storage=store.name,
            )

        bundle = await _plan(handler, options, _planning(cm, root, settings, make))
        if bundle is None:
            return
        if save:
            await _save(handler, bundle, root, folder_rel)
        else:
            await _deliver(handler, settings, options, bundle)


async def respond_save(handler, path):
    """Answer a POST that saves the bundle of the notebook at ``path`` beside it."""
    await respond(handler, path, save=True)


async def _save(handler, bundle, root, folder_rel):
    """Write the planned bundle into ``folder_rel`` (below the disk root ``root``) under a
    free name; answer 201 with where it went."""
    from .paths import Tree

    def locate():
        tree = Tree(root, allow_hidden=bundle.options.allow_hidden)
        try:
            return tree.locate(folder_rel)
        finally:
            tree.close()

    found = await in_thread(locate)  # the disk is looked at off the event loop
    if isinstance(found, str) or not stat.S_ISDIR(found[1].st_mode):
        in_thread(bundle.discard, "nbext_pkg-discard")
        raise web.HTTPError(
            404,
            f"The folder {folder_rel or '/'} cannot take the bundle: it is "
            "gone, or not inside the server's root.",
        )
    try:
        name, size = await in_thread(lambda: saving.save(bundle, found[0], bundle.filename))
    except saving.NotSaved as error:
        raise web.HTTPError(error.status, str(error)) from None
    except options_mod.Cancelled:
        handler.log.info("nbext_pkg: the client left while its bundle was saved; nothing was kept")
        return
    path = posixpath.join(folder_rel, name) if folder_rel else name
    handler.set_status(201)
    handler.set_header("Content-Type", "application/json")
    handler.finish(json.dumps({"path": path, "name": name, "size": size}))


class _Unsatisfiable(web.HTTPError):
    """416 with the Content-Range header the routes' ``write_error`` sends along."""

    def __init__(self, length):
        super().__init__(416, f"The bundle is {length} bytes long: ask for a range that starts inside it.")
        self.headers = {"Content-Range": f"bytes */{length}", "Accept-Ranges": "bytes"}


_TOKEN = re.compile(r"[A-Za-z0-9]{8,64}")


def _began(handler):
    """The page's ``download_token``, sent back as a cookie with the bundle's headers: the
    page (bundle_menu.js) learns from it that the browser's download has begun."""
    token = handler.get_argument("download_token", None)  # the query's, or a form's
    if token and _TOKEN.fullmatch(token):
        handler.set_cookie("nbext_pkg_download", token, path=handler.base_url, max_age=120, samesite="Strict")
        handler.nbext_pkg_cookie_set = True  # handlers.py takes it back with an error


def _headers(handler, bundle):
    """Set the response's headers; (start, end) of the bytes to send (None, None: all of
    an archive whose length is not known before it is made)."""
    handler.set_header("Content-Type", CONTENT_TYPES[bundle.options.format])
    handler.set_header("Content-Disposition", content_disposition(bundle.filename))
    handler.set_header("Cache-Control", "no-store")
    handler.set_header("X-Content-Type-Options", "nosniff")
    length = bundle.length
    if length is None:  # tar.gz, or files from a store: made as they go out
        handler.set_header("Accept-Ranges", "none")
        _began(handler)
        return None, None
    handler.set_header("Accept-Ranges", "bytes")
    handler.set_header("ETag", bundle.etag)
    try:
        wanted = requested(
            handler.request.headers.get("Range"), handler.request.headers.get("If-Range"), bundle.etag, length
        )
    except Unsatisfiable:
        raise _Unsatisfiable(length) from None
    _began(handler)
    if wanted is None:
        handler.set_header("Content-Length", str(length))
        return 0, length
    start, end = wanted
    handler.set_status(206)
    handler.set_header("Content-Range", f"bytes {start}-{end - 1}/{length}")
    handler.set_header("Content-Length", str(end - start))
    return start, end
