"""The bundle's HTML copy: nbconvert's rendering, with images embedded.

nbconvert's own embedding reads whatever path a markdown image names, outside
the server's root too; here only the images the plan accepted are embedded,
by putting their bytes into the markdown as data URIs before rendering.
"""

import base64
import copy
import mimetypes
import threading

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


def _embed(notebook, images):
    uris = {written: _data_uri(real) for written, real in images.items()}
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for written, uri in uris.items():
            for before, after in (("(", ")"), ("(", " "), ('"', '"'), ("'", "'"), ("<", ">")):
                text = text.replace(before + written + after, before + uri + after)
        cell["source"] = text
    return notebook


def render(notebook, images):
    """HTML text of ``notebook`` (a dict), embedding ``images`` ({reference: file})."""
    import nbformat

    node = nbformat.from_dict(_embed(copy.deepcopy(notebook), images))
    with _lock:
        body, _ = _get_exporter().from_notebook_node(node)
    return body
