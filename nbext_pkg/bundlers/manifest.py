"""MANIFEST.json, and the imports requirements.txt pins (environment.py pins them)."""

import ast
import json
from datetime import datetime, timezone


def _code_cells(notebook):
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    for cell in cells if isinstance(cells, list) else []:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source")  # missing: None, skipped below
            if isinstance(source, list):
                source = "".join(part for part in source if isinstance(part, str))
            if isinstance(source, str):
                yield source


# Cell magics whose body is Python: the body's imports count.
PYTHON_BODIES = frozenset({"capture", "time", "timeit", "prun", "debug"})


def _transformer():
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - every Jupyter kernel environment has IPython
        return None
    return TransformerManager()


def _python_source(source, transformer):
    """The cell as plain Python, as IPython itself would run it (line magics, ``!`` and
    ``x = !ls`` become calls), or None for a cell magic whose body need not be Python."""
    while source.lstrip().startswith("%%"):
        first, _, body = source.lstrip().partition("\n")
        words = first[2:].split()
        if not words or words[0] not in PYTHON_BODIES:
            return None
        source = body
    if transformer is None:
        lines = source.splitlines()
        return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)
    try:
        return transformer.transform_cell(source)
    except Exception:  # IPython gives up on some text; that cell alone loses its imports
        return None


def top_level_imports(notebook):
    """Names of the top-level modules the code cells import, in order, once each."""
    found = []
    transformer = _transformer()
    for source in _code_cells(notebook):
        code = _python_source(source, transformer)
        if code is None:
            continue
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in found:
                    found.append(top)
    return found


def stamp(when=None):
    """A manifest's time: ISO 8601 in UTC to the second (``when``: epoch seconds, else now)."""
    moment = datetime.now(timezone.utc) if when is None else datetime.fromtimestamp(when, timezone.utc)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def document(
    generator_version,
    notebook_arcname,
    notebook,
    files,
    skipped,
    generated=None,
    storage=None,
    created=None,
    environment=None,
):
    """The manifest as a dict, its keys in the order they are written (see ``manifest``)."""
    meta = notebook.get("metadata", {})
    if not isinstance(meta, dict):
        meta = {}
    doc = {
        "generator": {"name": "nbext_pkg", "version": generator_version},
        "created": stamp(created),
        "notebook": notebook_arcname,
        "storage": storage,
        "kernelspec": meta.get("kernelspec"),
        "language_info": meta.get("language_info"),
        "files": files,
        "skipped": skipped,
    }
    if generated:
        doc["generated"] = generated
    if environment is not None:
        # Where requirements.txt's versions come from ("kernel": the kernelspec's own
        # interpreter; "server": the notebook server's), and which Python that is.
        doc["requirements_from"] = environment.source
        if environment.kernelspec:
            doc["requirements_kernelspec"] = environment.kernelspec
        doc["python"] = dict(environment.python)
    return doc


def dumps(doc):
    """The manifest's bytes. (A name or reference with undecodable bytes holds lone
    surrogates: written as JSON escapes, never a reason to lose the manifest.)"""
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")


def manifest(
    generator_version,
    notebook_arcname,
    notebook,
    files,
    skipped,
    generated=None,
    storage=None,
    created=None,
    environment=None,
):
    """MANIFEST.json text. ``files``: dicts with path, size, sha256 (paths relative
    to the bundle's top folder; ``original`` where the name on disk differed, ``storage``
    where a mixed contents manager kept it); ``skipped``: dicts with reference and
    reason; ``generated``: where the HTML copy, requirements.txt and the manifest itself
    went; ``storage``: where the files came from (the contents manager's class name, or
    "disk" for the command line); ``created``: epoch seconds (default: now);
    ``environment``: the environment.Environment requirements.txt was pinned from."""
    doc = document(
        generator_version,
        notebook_arcname,
        notebook,
        files,
        skipped,
        generated,
        storage,
        created,
        environment,
    )
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
