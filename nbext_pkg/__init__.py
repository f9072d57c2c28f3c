"""nbext_pkg: a New notebook button, a Session info view and a notebook bundle
for the classic Jupyter Notebook.

The functions below are the install hooks the Jupyter commands look for
(``jupyter nbextension install --py nbext_pkg`` and friends). They only
describe where things are; the server part is imported when the server loads it.
"""

from ._version import __version__

__all__ = ["__version__"]


def _jupyter_nbextension_paths():
    """The front-end modules: one for the tree page, one for the notebook page."""
    from . import names  # here, so that `python -m nbext_pkg.names` runs it fresh

    return [
        {"section": section, "src": "static", "dest": names.NBEXTENSION, "require": require}
        for section, require in names.PAGE_MODULES.items()
    ]


def _jupyter_server_extension_paths():
    """The server extension, as notebook 6 finds it."""
    from . import names

    return [{"module": names.PACKAGE}]


def _jupyter_server_extension_points():
    """The server extension, as jupyter_server (nbclassic, JupyterHub) finds it."""
    from . import names

    return [{"module": names.PACKAGE}]


def _jupyter_bundlerextension_paths():
    """The notebook bundle, under File > Download as; the page module adds the format
    the settings choose to the label."""
    from . import names

    return [
        {
            "name": names.BUNDLER_ID,
            "label": names.BUNDLER_LABEL,
            "module_name": names.BUNDLER_MODULE,
            "group": names.BUNDLER_GROUP,
        }
    ]


def load_jupyter_server_extension(nbapp):
    """Called by notebook 6's server once its web application exists."""
    from .server import load

    load(nbapp)


def _load_jupyter_server_extension(serverapp):
    """Called by jupyter_server once its web application exists."""
    from .server import load

    load(serverapp)
