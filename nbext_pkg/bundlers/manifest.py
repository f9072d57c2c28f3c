"""MANIFEST.json and requirements.txt for a notebook bundle."""

import ast
import functools
import json
import sys
from datetime import datetime, timezone
from importlib import metadata


def _code_cells(notebook):
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    for cell in cells if isinstance(cells, list) else []:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
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


@functools.lru_cache(maxsize=1)
def distributions():
    """Top-level module -> distributions that provide it, read once per process."""
    return metadata.packages_distributions()


def requirements(notebook):
    """requirements.txt: third-party imports pinned to the server's installed versions."""
    stdlib = set(getattr(sys, "stdlib_module_names", ())) | set(sys.builtin_module_names)
    by_module = distributions()
    pinned, unknown = {}, []
    for module in top_level_imports(notebook):
        if module in stdlib or module.startswith("_"):
            continue
        dists = by_module.get(module)
        if not dists:
            unknown.append(module)
            continue
        for dist in dists:
            try:
                pinned[dist.lower()] = f"{dist}=={metadata.version(dist)}"
            except metadata.PackageNotFoundError:
                unknown.append(module)
    lines = ["# Imported by the notebook; versions as installed where it was bundled."]
    lines += [pinned[key] for key in sorted(pinned)]
    lines += [f"# {module}: imported, but no installed distribution provides it" for module in unknown]
    return "\n".join(lines) + "\n"


def stamp(when=None):
    """A manifest's time: ISO 8601 in UTC to the second (``when``: epoch seconds, else now)."""
    moment = datetime.now(timezone.utc) if when is None else datetime.fromtimestamp(when, timezone.utc)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def document(generator_version, notebook_arcname, notebook, files, skipped, generated=None,
             storage=None, created=None):
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
    return doc


def dumps(doc):
    """The manifest's bytes. (A name or reference with undecodable bytes holds lone
    surrogates: written as JSON escapes, never a reason to lose the manifest.)"""
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")


def manifest(generator_version, notebook_arcname, notebook, files, skipped, generated=None,
             storage=None, created=None):
    """MANIFEST.json text. ``files``: dicts with path, size, sha256 (paths relative
    to the bundle's top folder; ``original`` where the name on disk differed, ``storage``
    where a mixed contents manager kept it); ``skipped``: dicts with reference and
    reason; ``generated``: where the HTML copy, requirements.txt and the manifest itself
    went; ``storage``: where the files came from (the contents manager's class name, or
    "disk" for the command line); ``created``: epoch seconds (default: now)."""
    doc = document(generator_version, notebook_arcname, notebook, files, skipped, generated,
                   storage, created)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
