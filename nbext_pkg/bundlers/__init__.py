"""The notebook bundle: File > Download as > Notebook bundle.

``bundle(handler, model)`` is the entry point notebook 6's ``/bundle/`` route
calls; the package's own ``/nbext_pkg/bundle/`` route ends in the same place,
``respond.respond``.
"""

from ..config import settings_of


async def bundle(handler, model):
    """Stream the bundle of ``model`` (``?format=zip`` by default, or ``tar.gz``)."""
    from .respond import respond

    fmt = handler.get_query_argument("format", "zip")
    await respond(handler, model, fmt, settings_of(handler.settings))
