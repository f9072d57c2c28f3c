"""Server-side settings of nbext_pkg, as traitlets: ``c.NbextPkg.<name>``."""

from traitlets import Integer
from traitlets.config import Configurable


class NbextPkg(Configurable):
    """Limits and defaults for nbext_pkg's server part."""

    max_bundle_bytes = Integer(
        2 * 1024**3,
        help="Largest notebook bundle, in bytes of files before compression. A bundle "
        "over it is refused with 413 before the first byte is sent.",
    ).tag(config=True)

    max_bundle_files = Integer(
        10_000,
        help="Most files one notebook bundle may hold (the notebook, its HTML copy and "
        "the manifest not counted). A bundle over it is refused with 413.",
    ).tag(config=True)

    bundle_chunk_bytes = Integer(
        1024 * 1024,
        help="Size of the pieces a bundle is sent in; at most a few of them wait in "
        "memory at any time, whatever the size of the bundle.",
    ).tag(config=True)


def settings_of(web_settings):
    """The NbextPkg instance the server extension stored, or one made from the
    server's config (when the bundler runs without our server extension)."""
    found = web_settings.get("nbext_pkg")
    if found is None:
        found = NbextPkg(config=web_settings.get("config"))
    return found
