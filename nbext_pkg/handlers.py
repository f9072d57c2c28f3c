"""HTTP handlers for nbext_pkg's own routes."""

import json

from notebook.base.handlers import APIHandler, IPythonHandler
from notebook.utils import maybe_future
from tornado import web

from ._version import __version__
from .config import settings_of


class StatusHandler(APIHandler):
    """``GET <base_url>/nbext_pkg/api/status``: tells the page that the server
    part is loaded, and which version it is."""

    @web.authenticated
    async def get(self):
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"name": "nbext_pkg", "version": __version__}))


class BundleHandler(IPythonHandler):
    """``GET <base_url>/nbext_pkg/bundle/<path>?format=zip|tar.gz``: the same
    bundle as File > Download as, for servers without the stock ``/bundle/``."""

    @web.authenticated
    async def get(self, path):
        from .bundlers.respond import check_request, respond

        cm = self.contents_manager
        fmt = self.get_query_argument("format", "zip")
        # Ask for the type first: a large data file must not be read just to be refused.
        model = await maybe_future(cm.get(path, content=False))
        check_request(model, fmt)
        model = await maybe_future(cm.get(path, content=True, type="notebook"))
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
