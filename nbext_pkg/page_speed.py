"""A faster notebook page, for every notebook: what the page handler recomputes
on each load without need, computed once.

notebook 6's and nbclassic's notebook page lists File > Download as's formats by
asking nbconvert for every exporter's entry point and building an instance of each
(``get_frontend_exporters``), on every page load: about 300 ms of the server's
time per page on the machines this was measured on, while the kernel of a new
notebook is starting on the same loop. The list can only change when a package
is installed or removed, so it is kept until one of the folders on ``sys.path``
changes (installing or removing a distribution changes its folder's mtime).
"""

import importlib
import os
import re
import sys

PAGE_MODULES = ("notebook.notebook.handlers", "nbclassic.notebook.handlers")


def installed_key():
    """Changes when a distribution is installed or removed in any folder on ``sys.path``."""
    key = []
    for entry in sys.path:
        try:
            key.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            key.append((entry, None))
    return tuple(key)


def remembered(original, key=installed_key):
    """``original()``'s answer, computed again only when ``key()`` changes."""
    memo = {}

    def get_frontend_exporters():
        now = key()
        if memo.get("key") != now or "value" not in memo:
            memo["value"] = original()
            memo["key"] = now
        return list(memo["value"])

    get_frontend_exporters.__wrapped__ = original
    get_frontend_exporters.nbext_pkg = True
    return get_frontend_exporters


def speed_up_notebook_page(log=None):
    """Remember the exporter list in the notebook page handlers that are loaded here."""
    done = []
    for name in PAGE_MODULES:
        try:
            module = importlib.import_module(name)
        except Exception:  # that server is not installed, or cannot be imported here
            continue
        found = getattr(module, "get_frontend_exporters", None)
        if found is None or getattr(found, "nbext_pkg", False):
            continue
        module.get_frontend_exporters = remembered(found)
        done.append(name)
    if log is not None and done:
        log.debug("nbext_pkg: the notebook page's exporter list is remembered (%s)", ", ".join(done))
    return done


VERSIONED = re.compile(r'(?:src|href)="([^"]+\?v=[^"]+)"')


class _NoConnection:
    """Stands in for a connection where a page handler is only asked to render."""

    def set_close_callback(self, callback):
        pass


def notebook_page_assets(handler):
    """The versioned static files (``?v=<hash>``: the server lets browsers keep them) that
    the notebook page loads, as the server's own notebook page handler writes their URLs;
    [] where that cannot be found out. Rendering that page's template costs a few ms."""
    from tornado.httputil import HTTPServerRequest

    base = handler.base_url.rstrip("/") + "/"
    request = HTTPServerRequest(
        method="GET",
        uri=base + "notebooks/nbext_pkg-warm.ipynb",
        headers=handler.request.headers,
        connection=_NoConnection(),
    )
    request.remote_ip = handler.request.remote_ip
    try:
        delegate = handler.application.find_handler(request)
        page = delegate.handler_class(handler.application, request, **(delegate.handler_kwargs or {}))
        page.current_user = handler.current_user  # jupyter_server sets it in prepare(), not run here
        html = page.render_template(
            "notebook.html",
            notebook_path="nbext_pkg-warm.ipynb",
            notebook_name="nbext_pkg-warm.ipynb",
            kill_kernel=False,
            mathjax_url=page.mathjax_url,
            mathjax_config=page.mathjax_config,
            get_frontend_exporters=lambda: [],
        )
    except Exception as error:  # another server's page handler: nothing to warm, nothing broken
        handler.log.debug("nbext_pkg: the notebook page's files could not be listed: %s", error)
        return []
    found = []
    for url in VERSIONED.findall(html):
        url = url.replace("&amp;", "&")
        if url.startswith(base + "static/") and url not in found:
            found.append(url)
    return found
