"""handlers.py: the sentence an error carries, the handler classes made for each server,
and what the small routes answer on a real server (the bundle, session and kernel pool
routes have test modules of their own: test_bundle_http.py, test_kernel_pool.py)."""

import pytest
from harness import url_path
from tornado import web

from nbext_pkg import handlers
from nbext_pkg._version import __version__

NAMES = {"status", "sessions", "kernel_pool", "warm", "bundle", "selection", "save", "open", "stock", "files"}


@pytest.mark.parametrize(
    "error, said",
    [
        # Tornado doubles the "%" of a message given without arguments; the sentence does not.
        (web.HTTPError(404, "100% of it is gone"), "100% of it is gone"),
        (web.HTTPError(400, "50%% done"), "50%% done"),
        (web.HTTPError(409, "%s", "kernel 100% busy"), "kernel 100% busy"),
        (web.HTTPError(409, "%s and %s", "one"), "%s and %s"),  # arguments that do not fit
        (web.HTTPError(409, "%d kernels", "many"), "%d kernels"),
    ],
)
def test_an_http_errors_sentence_is_the_message_as_written(error, said):
    assert handlers.sentence(error, "Conflict") == said


@pytest.mark.parametrize("error", [web.HTTPError(404), ValueError("not for a person"), None])
def test_without_a_message_of_its_own_the_reason_is_the_sentence(error):
    assert handlers.sentence(error, "Not Found") == "Not Found"


@pytest.mark.parametrize("flavour", ["notebook", "jupyter_server"])
def test_each_server_gets_every_handler_built_on_its_own_base_classes(flavour):
    if flavour == "jupyter_server":
        from jupyter_server.base.handlers import APIHandler, FileFindHandler, JupyterHandler
    else:
        from notebook.base.handlers import APIHandler, FileFindHandler
        from notebook.base.handlers import IPythonHandler as JupyterHandler
    classes = handlers.handler_classes(flavour)
    assert set(classes) == NAMES
    mixins = {
        "status": (handlers.StatusMixin, APIHandler, "server"),
        "sessions": (handlers.SessionsMixin, APIHandler, "sessions"),
        "kernel_pool": (handlers.KernelPoolMixin, APIHandler, "kernels"),
        "warm": (handlers.WarmMixin, APIHandler, "server"),
        "bundle": (handlers.BundleMixin, JupyterHandler, "contents"),
        "selection": (handlers.SelectionMixin, JupyterHandler, "contents"),
        "save": (handlers.SaveMixin, JupyterHandler, "contents"),
        "open": (handlers.OpenMixin, JupyterHandler, "contents"),
        "stock": (handlers.StockBundleMixin, JupyterHandler, "contents"),
    }
    for name, (mixin, base, resource) in mixins.items():
        cls = classes[name]
        assert issubclass(cls, mixin) and issubclass(cls, base), name
        assert cls.auth_resource == resource, name
        # The mixin's behaviour comes first: the server's class does not shadow it.
        assert cls.__mro__.index(mixin) < cls.__mro__.index(base), name
    assert issubclass(classes["files"], handlers.OwnFilesMixin)
    assert issubclass(classes["files"], FileFindHandler)
    # Only notebook 6 has a stock bundler handler to hand other bundlers to.
    assert hasattr(classes["stock"], "_stock_get") == (flavour == "notebook")


def test_the_status_route_says_which_version_is_loaded(server):
    response = server.api("GET", "nbext_pkg/api/status", expect=200)
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"name": "nbext_pkg", "version": __version__}


def test_a_server_without_a_pool_reports_no_warm_kernels(server):
    response = server.api("GET", "nbext_pkg/api/kernel_pool", expect=200)
    assert response.json() == {"kernels": {}}


def test_a_bundle_error_is_json_with_the_sentence_as_written(server):
    missing = "nope 100% gone.ipynb"
    response = server.api("GET", f"nbext_pkg/bundle/{url_path(missing)}")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert "Content-Disposition" not in response.headers
    body = response.json()
    assert set(body) == {"message", "reason"} and body["reason"] == "Not Found"
    assert missing in body["message"] and "%%" not in body["message"]
