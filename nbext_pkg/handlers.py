"""HTTP handlers for nbext_pkg's own routes, on notebook 6 and on jupyter_server.

The behaviour lives in mixins that import nothing of either server; the
classes the server registers are made from them and that server's own base
classes by :func:`handler_classes`, so one module serves both.
"""

import json
import os

from tornado import web

from ._version import __version__
from .names import BUNDLER_ID


def sentence(error, reason):
    """An HTTPError's message as it was written, or ``reason``. Tornado doubles every "%" of a
    message given without arguments; formatting with the (maybe empty) arguments undoes it."""
    if isinstance(error, web.HTTPError) and error.log_message:
        try:
            return error.log_message % error.args
        except (TypeError, ValueError):
            return error.log_message
    return reason


class StatusMixin:
    """``GET <base_url>/nbext_pkg/api/status``: tells the page that the server
    part is loaded, and which version it is."""

    async def _get(self):
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"name": "nbext_pkg", "version": __version__}))


class SessionsMixin:
    """``POST <base_url>/nbext_pkg/api/sessions``: New notebook's session. The body and the answer
    are those of ``POST /api/sessions``; the kernel is a warm one from the pool
    (:mod:`nbext_pkg.kernel_pool`) when one of that kernelspec is ready, else started as
    usual. ``X-Nbext-Pkg-Kernel`` says which: ``warm``, ``fresh`` or ``existing`` (the
    notebook had a session already, which is returned as the stock route would)."""

    async def _post(self):
        from jupyter_client.jsonutil import json_default
        from jupyter_client.kernelspec import NoSuchKernel
        from jupyter_client.multikernelmanager import DuplicateKernelError

        from .kernel_pool import CLAIM, maybe_await

        model = self.get_json_body()
        path = model.get("path") if isinstance(model, dict) else None
        if not isinstance(path, str) or not path:
            raise web.HTTPError(
                400,
                'Say which notebook the session is for: {"path": "<notebook>", '
                '"type": "notebook", "kernel": {"name": "<kernelspec>"}}.',
            )
        kernel = model.get("kernel") or {}
        if not isinstance(kernel, dict):
            raise web.HTTPError(400, 'Say which kernel as {"name": "<kernelspec>"}.')
        kernel_name = kernel.get("name") or None
        kernel_id = kernel.get("id") or None
        for what, value in (
            ("kernel's name", kernel_name),
            ("kernel's id", kernel_id),
            ("session's name", model.get("name")),
            ("session's type", model.get("type")),
        ):
            if value is not None and not isinstance(value, str):
                raise web.HTTPError(400, f"The {what} must be a string.")
        sm = self.session_manager
        how = "fresh"
        if await maybe_await(sm.session_exists(path=path)):
            session = await maybe_await(sm.get_session(path=path))
            how = "existing"
        else:
            pool = self.settings.get("nbext_pkg_kernel_pool")
            # A session for a running kernel (kernel.id) is the stock route's business: passed on.
            warm = (
                pool.take(kernel_name or self.kernel_manager.default_kernel_name)
                if (pool and kernel_id is None)
                else None
            )
            token = CLAIM.set(warm)
            try:
                session = await maybe_await(
                    sm.create_session(
                        path=path,
                        kernel_name=kernel_name,
                        kernel_id=kernel_id,
                        name=model.get("name"),
                        type=model.get("type") or "notebook",
                    )
                )
            except NoSuchKernel:
                self.set_status(501)
                self.set_header("X-Nbext-Pkg-Kernel", how)
                self.finish(
                    json.dumps(
                        {
                            "message": f"The '{kernel_name}' kernel is not available. Please pick another "
                            "suitable kernel instead, or install that kernel.",
                            "short_message": f"{kernel_name} not found",
                        }
                    )
                )
                return
            except DuplicateKernelError as error:
                raise web.HTTPError(409, "%s", str(error)) from error
            finally:
                CLAIM.reset(token)
                if warm is not None and not warm.claimed:
                    pool.give_back(warm)
            if warm is not None and warm.claimed:
                how = "warm"
        self.set_header("X-Nbext-Pkg-Kernel", how)
        self.set_header("Location", self.base_url.rstrip("/") + "/api/sessions/" + session["id"])
        self.set_status(201)
        self.finish(json.dumps(session, default=json_default))

    def write_error(self, status_code, **kwargs):
        """The failure's own sentence in ``message``: for a kernel that cannot start, the
        reason (as jupyter_server's route says it), not notebook 6's "Unhandled error"."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        message = sentence(error, self._reason)
        if error is not None and not isinstance(error, web.HTTPError):
            message = str(error) or type(error).__name__
        self.set_header("X-Nbext-Pkg-Kernel", "none")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, "reason": self._reason}))


class KernelPoolMixin:
    """``GET <base_url>/nbext_pkg/api/kernel_pool``: what the warm kernel pool holds (each
    kernel's id, pid, age and memory), what it wants and what it refused."""

    async def _get(self):
        pool = self.settings.get("nbext_pkg_kernel_pool")
        report = pool.status() if pool is not None else {"kernels": {}}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(report))


class WarmMixin:
    """``GET <base_url>/nbext_pkg/api/warm``: the notebook page's versioned static files, which
    the tree page fetches while idle so that the first notebook opened finds them cached."""

    async def _get(self):
        from .page_speed import notebook_page_assets

        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"urls": notebook_page_assets(self)}))


class BundleMixin:
    """``GET|HEAD <base_url>/nbext_pkg/bundle/<path>?format=zip|tar|tar.gz``: the same
    bundle as File > Download as, and the only one on servers without ``/bundle/``."""

    async def _get(self, path):
        from .bundlers.respond import respond

        await respond(self, path)

    async def _head(self, path):
        await self._get(path)

    def write_error(self, status_code, **kwargs):
        """Errors as JSON with the sentence in ``message``, like the REST API."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        message = sentence(error, self._reason)
        self.clear_header("Content-Disposition")
        # No bundle: the page must not take the error for the download's start (bundle_menu.js).
        if getattr(self, "nbext_pkg_cookie_set", False):
            self.clear_cookie("nbext_pkg_download", path=self.base_url)
        for name, value in getattr(error, "headers", {}).items():
            self.set_header(name, value)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, "reason": self._reason}))


class SelectionMixin(BundleMixin):
    """``POST <base_url>/nbext_pkg/selection``: the bundle of what is ticked in the tree page's
    list (``folder``, ``names`` as a JSON list, and the bundle's ``format``, ``html``,
    ``requirements``, in the form's body), downloaded; with ``save=1`` written into that
    folder instead (201, JSON: where it went). The server's xsrf rules apply, as to any POST."""

    async def _post(self):
        from .bundlers.respond import respond_selection

        save = self.get_argument("save", "0") in ("1", "true", "yes")
        # The route is guarded for reading; saving writes into the folder, and asks for that
        # too where the server has an authorizer (jupyter_server: JupyterHub's scopes).
        authorizer = getattr(self, "authorizer", None)
        if (
            save
            and authorizer is not None
            and not authorizer.is_authorized(self, self.current_user, "write", "contents")
        ):
            raise web.HTTPError(
                403,
                "You may read this folder but not write into it, so the bundle "
                "cannot be saved here: download it instead.",
            )
        await respond_selection(self, save=save)


class SaveMixin(BundleMixin):
    """``POST <base_url>/nbext_pkg/save/<path>``: the notebook's bundle, written beside it under
    a free name (201, JSON: where it went)."""

    async def _post(self, path):
        from .bundlers.respond import respond_save

        await respond_save(self, path)


class OpenMixin(BundleMixin):
    """``POST <base_url>/nbext_pkg/open/<path>``: the archive at ``path`` opened into a new
    folder beside it (bundlers/opening.py)."""

    async def _post(self, path):
        from .bundlers.opening import respond_open

        await respond_open(self, path)


class StockBundleMixin(BundleMixin):
    """``GET <base_url>/bundle/<path>?bundler=<id>``, the stock Download as entries' URL.

    Registered ahead of notebook 6's own handler, which decodes the path twice and
    reads the whole file before it checks anything, and on nbclassic, which has no
    such route (so the stock entry works even before our page module takes it over).
    ``nbext_pkg_bundle`` is ours; other bundlers are refused before anything is read
    when unknown or when the path is not a notebook, and otherwise handed to notebook
    6's handler as before.
    """

    async def _get(self, path):
        from .bundlers.respond import contents_get, respond
        from .bundlers.stream import in_thread

        bundler_id = self.get_query_argument("bundler", None)
        if not bundler_id:
            raise web.HTTPError(400, "Say which bundler: bundle/<notebook>?bundler=nbext_pkg_bundle.")
        if bundler_id == BUNDLER_ID:
            await respond(self, path)
            return
        enabled = (self.config_manager.get("notebook") or {}).get("bundlerextensions") or {}
        if bundler_id not in enabled:
            raise web.HTTPError(400, f"Bundler {bundler_id} not enabled")
        if not hasattr(self, "_stock_get"):
            raise web.HTTPError(
                400,
                f"This server has no handler for the bundler {bundler_id}; "
                f"here bundle/ serves {BUNDLER_ID} only.",
            )
        await in_thread(lambda: self._check_stock_path(path))
        from urllib.parse import unquote

        model = await contents_get(self.contents_manager, unquote(path), content=False)
        if model.get("type") != "notebook":
            raise web.HTTPError(400, f"{model.get('path')} is not a notebook: only notebooks can be bundled.")
        await self._stock_get(path)

    def _check_stock_path(self, path):
        """The rules our own bundles obey, for the path notebook 6's handler will use (it
        decodes the URL's path once more): inside the root, not hidden, no link out."""
        from urllib.parse import unquote

        from .bundlers.options import Options
        from .bundlers.paths import Tree
        from .bundlers.pipeline import NotBundled, locate_notebook, notebook_path
        from .bundlers.respond import local_root

        cm = self.contents_manager
        options = Options(allow_hidden=bool(getattr(cm, "allow_hidden", False)))
        try:
            root = local_root(cm)
            if root is None:
                notebook_path(unquote(path), options.allow_hidden)
                return
            tree = Tree(root, allow_hidden=options.allow_hidden)
            try:
                locate_notebook(tree, unquote(path), options)
            finally:
                tree.close()
        except NotBundled as error:
            raise web.HTTPError(error.status, str(error)) from None


class OwnFilesMixin:
    """Serves ``nbextensions/nbext_pkg/`` itself.

    Two things differ from the server's handler for ``nbextensions/``:

    - Tornado 6.5.9 stopped following symlinks out of the folder it serves,
      so files that ``jupyter nbextension install --symlink`` linked in get a
      403 there. Here the links' targets are allowed, for our folder only.
    - The notebook never lets the browser cache nbextensions, so every page
      load asks again for each of our modules, one wave per level of
      ``define`` dependencies. A copied install cannot change while the
      server runs, and the page's module URLs carry ``?v=<server start>``,
      so there the browser may keep them; a linked (developer) install
      keeps the no-cache rule, so edits show on reload.
    """

    def initialize(self, path, **kwargs):
        super().initialize(path, **kwargs)
        self.allowed_symlink_directory = [os.path.realpath(p) for p in self.root]

    def validate_absolute_path(self, root, absolute_path):
        result = super().validate_absolute_path(root, absolute_path)
        # jupyter_server's handler resets this per request to the root that matched.
        self.allowed_symlink_directory = [os.path.realpath(p) for p in self.root]
        return result


def handler_classes(flavour):
    """{name: handler class} (status, sessions, kernel_pool, warm, bundle, selection, save, open, stock,
    files) for
    ``"notebook"`` (notebook 6) or ``"jupyter_server"`` (nbclassic, JupyterHub's single-user
    server)."""
    if flavour == "jupyter_server":
        from jupyter_server.auth.decorator import authorized
        from jupyter_server.base.handlers import APIHandler, FileFindHandler, JupyterHandler

        def guard(method, resource, action="read"):
            # jupyter_server 2 also asks its authorizer (JupyterHub's scopes, for one).
            return web.authenticated(authorized(action=action, resource=resource)(method))
    else:
        from notebook.base.handlers import APIHandler, FileFindHandler
        from notebook.base.handlers import IPythonHandler as JupyterHandler

        def guard(method, resource, action="read"):
            return web.authenticated(method)

    status = type(
        "StatusHandler",
        (StatusMixin, APIHandler),
        {"auth_resource": "server", "get": guard(StatusMixin._get, "server")},
    )
    sessions = type(
        "SessionsHandler",
        (SessionsMixin, APIHandler),
        {"auth_resource": "sessions", "post": guard(SessionsMixin._post, "sessions", "write")},
    )
    warm = type(
        "WarmHandler",
        (WarmMixin, APIHandler),
        {"auth_resource": "server", "get": guard(WarmMixin._get, "server")},
    )
    kernel_pool = type(
        "KernelPoolHandler",
        (KernelPoolMixin, APIHandler),
        {"auth_resource": "kernels", "get": guard(KernelPoolMixin._get, "kernels")},
    )
    bundle = type(
        "BundleHandler",
        (BundleMixin, JupyterHandler),
        {
            "auth_resource": "contents",
            "get": guard(BundleMixin._get, "contents"),
            "head": guard(BundleMixin._head, "contents"),
        },
    )
    stock_bases = (StockBundleMixin, JupyterHandler)
    extra = {}
    if flavour != "jupyter_server":
        from notebook.bundler.handlers import BundlerHandler

        stock_bases = (StockBundleMixin, BundlerHandler)
        extra["_stock_get"] = BundlerHandler.get
    stock = type(
        "StockBundleHandler",
        stock_bases,
        {
            "auth_resource": "contents",
            "get": guard(StockBundleMixin._get, "contents"),
            "head": guard(StockBundleMixin._head, "contents"),
            **extra,
        },
    )
    files = type("OwnFilesHandler", (OwnFilesMixin, FileFindHandler), {})
    selection = type(
        "SelectionHandler",
        (SelectionMixin, JupyterHandler),
        {"auth_resource": "contents", "post": guard(SelectionMixin._post, "contents")},
    )
    save = type(
        "SaveHandler",
        (SaveMixin, JupyterHandler),
        {"auth_resource": "contents", "post": guard(SaveMixin._post, "contents", "write")},
    )
    opener = type(
        "OpenHandler",
        (OpenMixin, JupyterHandler),
        {"auth_resource": "contents", "post": guard(OpenMixin._post, "contents", "write")},
    )
    return {
        "status": status,
        "sessions": sessions,
        "kernel_pool": kernel_pool,
        "warm": warm,
        "bundle": bundle,
        "selection": selection,
        "save": save,
        "open": opener,
        "stock": stock,
        "files": files,
    }
