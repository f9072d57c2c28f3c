"""Every name nbext_pkg shares between its parts, spelled once.

The install hooks (``__init__.py``), ``jupyter nbext_pkg install`` (``install.py``),
``doctor.py``, the routes and the page modules all take their names from here. The page
modules read them from ``static/names.js``, which ``python -m nbext_pkg.names`` writes
from :func:`for_the_page` (with ``jupyter-config/``, from the install hooks);
``tests/test_names.py`` fails, naming the entry, when names.js, ``jupyter-config/``,
static/settings.js or the nbextension yaml files say anything else.

Plain data only: importing this module imports nothing.
"""

PACKAGE = "nbext_pkg"  # the import name, the server extension's module, the bundler's package

# The nbextension: its folder under <data>/nbextensions/, and one page module per
# notebook config section (the section the notebook loads it in -> its require id).
NBEXTENSION = PACKAGE
PAGE_MODULES = {section: f"{NBEXTENSION}/{section}" for section in ("tree", "notebook")}
COMMON_SECTION = "common"  # the nbconfig section both pages read

# The key under which our settings sit in an nbconfig section and in a notebook's
# metadata ({"nbext_pkg": {...}}), and the settings the page modules read there, with
# their defaults (static/settings.js has the same defaults and checks each value).
CONFIG_KEY = PACKAGE
SETTINGS = {
    "default_kernel": "",  # tree page: "" = the server's default kernelspec
    "remember_kernel": True,  # tree page: start from the kernel picked last time
    "open_in": "",  # "" = the notebook's own choice; "new-tab" or "same-tab"
    "bundle_format": "zip",  # "zip", "tar" or "tar.gz"
    "bundle_html": True,  # the bundle's HTML copy
    "bundle_requirements": True,  # the bundle's requirements.txt
}
# Read from the `common` section only: the exact origins an embedding page may have.
EMBED_ORIGINS = "embed_origins"

# The bundler under File > Download as. The label does not name a format: the page
# module adds the one the settings choose ("Notebook bundle (.tar.gz)").
BUNDLER_ID = f"{PACKAGE}_bundle"
BUNDLER_LABEL = "Notebook bundle"
BUNDLER_MODULE = f"{PACKAGE}.bundlers"
BUNDLER_GROUP = "download"

# The notebook actions' prefix (nbext_pkg:new-notebook, ...).
ACTION_PREFIX = PACKAGE

# The browser's local storage key for the kernel picked last in the tree page's menu.
LAST_KERNEL_KEY = f"{PACKAGE}.last_kernel"

# postMessage types between an embedding page and ours (static/embed.js).
MESSAGES = {
    "session": f"{PACKAGE}:session",
    "tree": f"{PACKAGE}:tree",
    "get_session": f"{PACKAGE}:get-session",
    "new_notebook": f"{PACKAGE}:new-notebook",
}

# Our routes, relative to the server's base URL (server.py adds the path parts).
ROUTES = {
    "status": f"{PACKAGE}/api/status",
    "sessions": f"{PACKAGE}/api/sessions",
    "kernel_pool": f"{PACKAGE}/api/kernel_pool",
    "warm": f"{PACKAGE}/api/warm",
    "bundle": f"{PACKAGE}/bundle",
    "selection": f"{PACKAGE}/selection",
    "save": f"{PACKAGE}/save",
    "open": f"{PACKAGE}/open",
}


def for_the_page():
    """What static/names.js holds: the names a page module needs."""
    return {
        "nbextension": NBEXTENSION,
        "page_modules": dict(PAGE_MODULES),
        "common_section": COMMON_SECTION,
        "config_key": CONFIG_KEY,
        "settings": dict(SETTINGS),
        "embed_origins": EMBED_ORIGINS,
        "bundler": {"id": BUNDLER_ID, "label": BUNDLER_LABEL, "group": BUNDLER_GROUP},
        "action_prefix": ACTION_PREFIX,
        "last_kernel_key": LAST_KERNEL_KEY,
        "messages": dict(MESSAGES),
        "routes": dict(ROUTES),
    }


NAMES_JS_HEAD = """\
// nbext_pkg: the names the page modules share with the Python side.
//
// Written by `python -m nbext_pkg.names` from nbext_pkg/names.py, where each name is
// spelled once: edit that file, then run the command; tests/test_names.py fails,
// naming the entry, while the two differ. The object is strict JSON.
define([], function () {
    "use strict";

    return """


def names_js():
    """The text of static/names.js."""
    import json

    body = json.dumps(for_the_page(), indent=4).replace("\n", "\n    ")
    return NAMES_JS_HEAD + body + ";\n});\n"


def write_derived():
    """Write static/names.js, and, in a checkout, jupyter-config/ (the enabling config
    ``pip install`` puts in place, from the install hooks)."""
    import json
    from pathlib import Path

    from .install import packaged_config

    here = Path(__file__).parent
    written = [here / "static" / "names.js"]
    written[0].write_text(names_js(), encoding="utf-8")
    config = here.parent / "jupyter-config"
    if config.is_dir():
        for rel, data in packaged_config().items():
            written.append(config / rel)
            written[-1].parent.mkdir(parents=True, exist_ok=True)
            written[-1].write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return written


if __name__ == "__main__":
    for path in write_derived():
        print(f"wrote {path}")
