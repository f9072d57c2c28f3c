"""The bundle's HTML copy: nbconvert's rendering, with images embedded.

nbconvert's own embedding reads whatever path a markdown image names, outside
the server's root too; here only the images the plan accepted are embedded.
They go in after rendering, into the `src` attributes of the finished page:
fed into the markdown before, megabytes of data URIs made the markdown
parser's regular expressions hold the interpreter lock for a third of a
second, stalling the server's event loop.
"""

import base64
import html as html_text
import mimetypes
import re
import threading
from urllib.parse import unquote

_exporter = None
_lock = threading.Lock()


def _get_exporter():
    """One exporter per server process: building one costs more than a render."""
    global _exporter
    if _exporter is None:
        from nbconvert import HTMLExporter

        _exporter = HTMLExporter()
    return _exporter


def _data_uri(path):
    mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
    with open(path, "rb") as f:
        return f"data:{mime};base64," + base64.b64encode(f.read()).decode("ascii")


_SRC = re.compile(r'(<img\b[^>]*?\bsrc=)(["\'])(.*?)\2', re.IGNORECASE)


def _embed(page, images):
    """Replace the `src` of each accepted image (keyed by the path as the
    notebook means it: decoded, without query or fragment) by a data URI."""
    cache = {}

    def swap(match):
        key = unquote(html_text.unescape(match.group(3)).split("#")[0].split("?")[0])
        if key not in images:
            return match.group(0)
        if key not in cache:
            cache[key] = _data_uri(images[key])
        return f"{match.group(1)}{match.group(2)}{cache[key]}{match.group(2)}"

    return _SRC.sub(swap, page)


def render(notebook, images):
    """HTML text of ``notebook`` (a dict), embedding ``images`` ({path: file})."""
    import nbformat

    node = nbformat.from_dict(notebook)
    with _lock:
        body, _ = _get_exporter().from_notebook_node(node)
    return _embed(body, images)
