"""Writes a planned bundle into any writable sink: the notebook, its files, the
HTML copy, requirements.txt and MANIFEST.json, in that order. Shared by the
download (a sink that streams to the network) and the nbconvert exporter (a
temporary file). Imports neither tornado nor notebook."""

import json
import logging
import posixpath
import zipfile

from .._version import __version__
from . import manifest
from .archive import open_archive

log = logging.getLogger("nbext_pkg")


def write_bundle(sink, fmt, plan, notebook, notebook_bytes, html_copy, requirements=True):
    """Write the bundle of ``notebook`` (serialised as ``notebook_bytes``) as
    ``plan`` says. ``html_copy()`` returns the HTML text, or raises when nbconvert
    failed: the bundle then goes without it, and the manifest says so.
    ``html_copy`` None and ``requirements`` False leave those out (asked for)."""
    archive = open_archive(fmt, sink)
    files, skipped = [], list(plan.skipped)

    def record(arcname, size, sha256):
        files.append({"path": arcname, "size": size, "sha256": sha256})

    top = plan.top
    record(plan.notebook_arcname, *archive.add_bytes(f"{top}/{plan.notebook_arcname}", notebook_bytes))
    for entry in plan.files:
        try:
            record(entry.arcname, *archive.add_file(f"{top}/{entry.arcname}", entry.real))
        except FileNotFoundError:  # deleted since the plan was made
            skipped.append({"reference": entry.rel, "reason": "missing"})
    if html_copy is not None:
        try:
            rendered = html_copy().encode("utf-8")
        except Exception as error:  # nbconvert failing must not cost the user the bundle
            log.warning("nbext_pkg: no HTML copy of %s: %s", plan.notebook_arcname, error)
            skipped.append({"reference": plan.html_arcname, "reason": "unreadable"})
        else:
            record(plan.html_arcname, *archive.add_bytes(f"{top}/{plan.html_arcname}", rendered))
    if requirements:
        text = manifest.requirements(notebook).encode("utf-8")
        record("requirements.txt", *archive.add_bytes(f"{top}/requirements.txt", text))
    text = manifest.manifest(__version__, plan.notebook_arcname, notebook, files, skipped,
                             files_note=plan.files_note)
    archive.add_bytes(posixpath.join(top, "MANIFEST.json"), text.encode("utf-8"))
    archive.close()


def is_our_bundle(path):
    """Whether the zip at ``path`` is a bundle nbext_pkg wrote (its manifest says so)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith("/MANIFEST.json")]
            if len(names) != 1:
                return False
            doc = json.loads(zf.read(names[0]))
    except (OSError, ValueError, zipfile.BadZipFile):
        return False
    return isinstance(doc, dict) and (doc.get("generator") or {}).get("name") == "nbext_pkg"
