"""The server extension: registers nbext_pkg's routes on the notebook server."""

import os

from notebook.base.handlers import FileFindHandler
from notebook.utils import url_path_join

from ._version import __version__
from .config import NbextPkg
from .handlers import BundleHandler, StatusHandler


class OwnFilesHandler(FileFindHandler):
    """Serves ``nbextensions/nbext_pkg/`` itself.

    Two things differ from the notebook's handler for ``nbextensions/``:

    - Tornado 6.5.9 stopped following symlinks out of the folder it serves,
      so files that ``jupyter nbextension install --symlink`` linked in get a
      403 there. Here the links' targets are allowed, for our folder only.
    - The notebook never lets the browser cache nbextensions, so every page
      load asks again for each of our modules, one wave per level of
      ``define`` dependencies. A copied install cannot change while the
      server runs, and the page's module URLs carry ``?v=<server start>``,
      so there the browser may keep them; a linked (developer) install
      keeps the notebook's no-cache rule, so edits show on reload.
    """

    def initialize(self, path, **kwargs):
        super().initialize(path, **kwargs)
        self.allowed_symlink_directory = [os.path.realpath(p) for p in self.root]


def load(nbapp):
    """Add our routes under the server's base URL and say so in the log."""
    web_app = nbapp.web_app
    base_url = web_app.settings["base_url"]
    web_app.settings["nbext_pkg"] = NbextPkg(parent=nbapp)
    own_files = [os.path.join(p, "nbext_pkg") for p in web_app.settings["nbextensions_path"]]
    linked = any(os.path.islink(p) for p in own_files)
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base_url, "nbext_pkg", "api", "status"), StatusHandler),
            (url_path_join(base_url, "nbext_pkg", "bundle", "(.+)"), BundleHandler),
            (
                url_path_join(base_url, "nbextensions", "nbext_pkg", "(.*)"),
                OwnFilesHandler,
                {"path": own_files, "no_cache_paths": ["/"] if linked else []},
            ),
        ],
    )
    nbapp.log.info("nbext_pkg %s loaded", __version__)
