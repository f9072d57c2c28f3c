"""HTTP handlers for nbext_pkg's own routes."""

import json

from notebook.base.handlers import APIHandler
from tornado import web

from ._version import __version__


class StatusHandler(APIHandler):
    """``GET <base_url>/nbext_pkg/api/status``: tells the page that the server
    part is loaded, and which version it is."""

    @web.authenticated
    async def get(self):
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"name": "nbext_pkg", "version": __version__}))
