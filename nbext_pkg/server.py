"""The server extension: registers nbext_pkg's routes on the notebook server."""

import os

from notebook.base.handlers import FileFindHandler
from notebook.utils import url_path_join

from ._version import __version__
from .handlers import StatusHandler


class OwnFilesHandler(FileFindHandler):
    """Serves ``nbextensions/nbext_pkg/`` itself, following a ``--symlink`` install.

    Tornado 6.5.9 stopped following symlinks out of the folder it serves, so
    the notebook's own handler answers 403 for files that
    ``jupyter nbextension install --symlink`` linked in. Here the links'
    targets are allowed, and only for our own folder.
    """

    def initialize(self, path, **kwargs):
        super().initialize(path, **kwargs)
        self.allowed_symlink_directory = [os.path.realpath(p) for p in self.root]


def load(nbapp):
    """Add our routes under the server's base URL and say so in the log."""
    web_app = nbapp.web_app
    base_url = web_app.settings["base_url"]
    own_files = [os.path.join(p, "nbext_pkg") for p in web_app.settings["nbextensions_path"]]
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base_url, "nbext_pkg", "api", "status"), StatusHandler),
            (
                url_path_join(base_url, "nbextensions", "nbext_pkg", "(.*)"),
                OwnFilesHandler,
                {"path": own_files, "no_cache_paths": ["/"]},
            ),
        ],
    )
    nbapp.log.info("nbext_pkg %s loaded", __version__)
