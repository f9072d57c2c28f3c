"""HTTP handlers for nbext_pkg's own routes, on notebook 6 and on jupyter_server.

The behaviour lives in mixins that import nothing of either server; the
classes the server registers are made from them and that server's own base
classes by :func:`handler_classes`, so one module serves both.
"""

import asyncio
import inspect
import json
import os

from tornado import web

from ._version import __version__
from .config import settings_of


async def resolved(value):
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
    return await asyncio.ensure_future(resolved(cm.get(path, **kwargs)))


class StatusMixin:
    """``GET <base_url>/nbext_pkg/api/status``: tells the page that the server
    part is loaded, and which version it is."""

    async def _get(self):
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"name": "nbext_pkg", "version": __version__}))


class BundleMixin:
    """``GET <base_url>/nbext_pkg/bundle/<path>?format=zip|tar.gz``: the same
    bundle as File > Download as, and the only one on servers without ``/bundle/``."""

    async def _get(self, path):
        from .bundlers.respond import check_request, respond

        cm = self.contents_manager
        fmt = self.get_query_argument("format", "zip")
        # Ask for the type first: a large data file must not be read just to be refused.
        model = await contents_get(cm, path, content=False)
        check_request(model, fmt)
        model = await contents_get(cm, path, content=True, type="notebook")
        await respond(self, model, fmt, settings_of(self.settings))

    def write_error(self, status_code, **kwargs):
        """Errors as JSON with the sentence in ``message``, like the REST API."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(error, "log_message", None) or self._reason
        if getattr(error, "args", None) and isinstance(error, web.HTTPError) and error.args:
            message = message % error.args
        self.clear_header("Content-Disposition")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, "reason": self._reason}))


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
    """(StatusHandler, BundleHandler, OwnFilesHandler) for ``"notebook"`` (notebook 6)
    or ``"jupyter_server"`` (nbclassic, JupyterHub's single-user server)."""
    if flavour == "jupyter_server":
        from jupyter_server.auth.decorator import authorized
        from jupyter_server.base.handlers import APIHandler, FileFindHandler, JupyterHandler

        def guard(method, resource):
            # jupyter_server 2 also asks its authorizer (JupyterHub's scopes, for one).
            return web.authenticated(authorized(action="read", resource=resource)(method))
    else:
        from notebook.base.handlers import APIHandler, FileFindHandler
        from notebook.base.handlers import IPythonHandler as JupyterHandler

        def guard(method, resource):
            return web.authenticated(method)

    status = type("StatusHandler", (StatusMixin, APIHandler), {
        "auth_resource": "server", "get": guard(StatusMixin._get, "server")})
    bundle = type("BundleHandler", (BundleMixin, JupyterHandler), {
        "auth_resource": "contents", "get": guard(BundleMixin._get, "contents")})
    files = type("OwnFilesHandler", (OwnFilesMixin, FileFindHandler), {})
    return status, bundle, files
