"""The server extension: registers nbext_pkg's routes on notebook 6's server or
on jupyter_server (nbclassic, JupyterHub's single-user server)."""

import os

from ._version import __version__
from .config import NbextPkg
from .handlers import handler_classes
from .names import NBEXTENSION, ROUTES
from .page_speed import speed_up_notebook_page


def flavour_of(app):
    """``"jupyter_server"`` for a jupyter_server ServerApp, ``"notebook"`` for notebook 6's."""
    try:
        from jupyter_server.serverapp import ServerApp
    except ImportError:
        return "notebook"
    return "jupyter_server" if isinstance(app, ServerApp) else "notebook"


def nbextension_folders(settings):
    """Where the server looks for nbextensions: its own list, or jupyter's data path
    when the classic front end has not told the server yet (on jupyter_server the
    extensions may load in any order)."""
    folders = settings.get("nbextensions_path")
    if not folders:
        from jupyter_core.paths import jupyter_path

        folders = jupyter_path("nbextensions")
    return [os.path.join(p, NBEXTENSION) for p in folders]


def load(app):
    """Add our routes under the server's base URL and say so in the log."""
    flavour = flavour_of(app)
    web_app = app.web_app
    base_url = web_app.settings["base_url"]
    settings = web_app.settings["nbext_pkg"] = NbextPkg(parent=app)
    handlers = handler_classes(flavour)
    if flavour == "jupyter_server":
        from jupyter_server.utils import url_path_join
    else:
        from notebook.utils import url_path_join
    own_files = nbextension_folders(web_app.settings)
    linked = any(os.path.islink(p) for p in own_files)
    routes = [
        (url_path_join(base_url, ROUTES["status"]), handlers["status"]),
        (url_path_join(base_url, ROUTES["sessions"]), handlers["sessions"]),
        (url_path_join(base_url, ROUTES["kernel_pool"]), handlers["kernel_pool"]),
        (url_path_join(base_url, ROUTES["warm"]), handlers["warm"]),
        (url_path_join(base_url, ROUTES["bundle"], "(.+)"), handlers["bundle"]),
        (url_path_join(base_url, ROUTES["selection"]), handlers["selection"]),
        (url_path_join(base_url, ROUTES["save"], "(.+)"), handlers["save"]),
        (url_path_join(base_url, ROUTES["open"], "(.+)"), handlers["open"]),
        # Ahead of notebook 6's own /bundle/ handler (and where nbclassic has none).
        (url_path_join(base_url, "bundle", "(.*)"), handlers["stock"]),
        (
            url_path_join(base_url, "nbextensions", NBEXTENSION, "(.*)"),
            handlers["files"],
            {"path": own_files, "no_cache_paths": ["/"] if linked else []},
        ),
    ]
    # Tornado tries the extensions' rule sets in the order they were added, so a
    # route another extension registered first (nbclassic's nbextensions/) would
    # win over ours: ours go to the front.
    web_app.add_handlers(".*$", routes)
    rules = web_app.default_router.rules
    rules.insert(0, rules.pop(-2))
    start_kernel_pool(app, web_app, settings)
    speed_up_notebook_page(app.log)
    app.log.info("nbext_pkg %s loaded (%s)", __version__, flavour)


def start_kernel_pool(app, web_app, settings):
    """The warm kernels of ``c.NbextPkg.kernel_pool``, started once the server's loop runs."""
    if not settings.kernel_pool:
        return
    from tornado.ioloop import IOLoop

    from .kernel_pool import KernelPool

    pool = KernelPool(
        app.kernel_manager,
        settings.kernel_pool,
        app.log,
        refill_delay=settings.kernel_pool_refill_delay,
        max_age=settings.kernel_pool_max_age,
        start_timeout=settings.kernel_pool_start_timeout,
    )
    web_app.settings["nbext_pkg_kernel_pool"] = pool
    IOLoop.current().add_callback(pool.start)
