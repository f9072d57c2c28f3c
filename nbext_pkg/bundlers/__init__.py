"""The notebook bundle: File > Download as > Notebook bundle.

``bundle(handler, model)`` is the entry point of the bundler API, which notebook 6's
own ``/bundle/`` handler calls where nbext_pkg's server extension (whose handler
takes that route first) is not loaded. Every way in ends in ``respond.respond``.
"""


async def bundle(handler, model):
    """Stream the bundle of ``model``'s notebook (``?format=zip`` by default, or ``tar.gz``)."""
    from .respond import respond

    await respond(handler, model["path"])
