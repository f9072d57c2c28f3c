"""The one way a bundle is made, for both routes and the nbconvert exporter:

    notebook = local_notebook(tree, path, options)     # or from_model(model, path)
    bundle = prepare(notebook, tree, options)           # the plan: names, limits, skips
    bundle.write(sink)                                  # the archive, in a worker thread

Every file, the notebook included, is read through ``sources.LocalFiles``, which opens
only what the plan checked. The HTML copy and requirements.txt are made by a child
process (render.py) that starts when the writing does and is read when the files are in.
Whatever goes wrong with one file is a ``skipped`` entry with a reason; the archive is
always valid. Imports neither tornado nor notebook: errors a person must see before the
first byte are :class:`NotBundled`, with the HTTP status the routes answer with.
"""

import base64
import logging
import mimetypes
import time
from dataclasses import dataclass

from .._version import __version__
from . import manifest, render
from .archive import open_archive
from .options import Cancelled
from .paths import Resolved, Tree, hidden, lexical
from .plan import OverLimit, human, make_plan
from .sources import Changed, LocalFiles

log = logging.getLogger("nbext_pkg")
_B64_BLOCK = 3 * 256 * 1024


class SinkFailed(Exception):
    """The archive's destination refused a write (a full disk, for the exporter)."""


class _Guarded:
    """The sink, with its OSErrors told apart from those of the files being read."""

    def __init__(self, sink):
        self.sink = sink

    def write(self, data):
        try:
            return self.sink.write(data)
        except OSError as error:
            raise SinkFailed(error) from error

    def flush(self):
        try:
            self.sink.flush()
        except OSError as error:
            raise SinkFailed(error) from error


class NotBundled(Exception):
    """No bundle: ``status`` is the HTTP status, the message a sentence for a person."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


@dataclass
class Notebook:
    """The notebook to bundle: its path below the root, its content, and its bytes."""

    path: str
    content: dict
    data: bytes
    mtime: float = None


def notebook_path(path, allow_hidden=False):
    """The root-relative path the request names, by the rules its files obey."""
    rel = lexical("", path, True) if "\x00" not in path else None
    if not rel:
        raise NotBundled(404, f"{path} is outside the server's root: only notebooks inside it "
                              "can be bundled.")
    if not allow_hidden and hidden(rel):
        raise NotBundled(404, f"{path} is hidden (a name in it starts with a dot), and hidden "
                              "notebooks are not bundled.")
    return rel


def _parse(data, path):
    import nbformat

    try:
        return nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as error:  # JSON, schema, encoding: all mean "not a notebook"
        lines = str(error).strip().splitlines()
        raise NotBundled(400, f"Unreadable Notebook: {path}: {lines[0] if lines else type(error).__name__}"
                         ) from None


def local_notebook(tree, path, options):
    """The notebook at ``path`` below ``tree``'s root, read as the rules allow."""
    import stat

    rel = notebook_path(path, options.allow_hidden)
    for _ in range(3):
        found = tree.locate(rel)
        if found == "missing":
            raise NotBundled(404, f"No such notebook: {path}")
        if found == "symlink-outside-root":
            raise NotBundled(404, f"{path} leads outside the server's root through a symbolic "
                                  "link, so it is not bundled.")
        if found == "hidden":
            raise NotBundled(404, f"{path} leads to a hidden file through a symbolic link, so it "
                                  "is not bundled.")
        if isinstance(found, str):
            raise NotBundled(403, f"{path} could not be read.")
        real, info = found
        if not stat.S_ISREG(info.st_mode):
            raise NotBundled(400, f"{path} is not a notebook: only .ipynb notebooks can be bundled.")
        if info.st_size > options.max_bytes:
            raise NotBundled(413, f"{path} holds {human(info.st_size)}, more than the server's limit "
                                  f"of {human(options.max_bytes)} (c.NbextPkg.max_bundle_bytes).")
        item = Resolved(real, rel, info.st_size, info.st_dev, info.st_ino, info.st_mtime_ns)
        files = LocalFiles(tree.real_root)
        try:
            data = files.read_all(item)
        except Changed:
            continue  # saved just now: look again
        finally:
            files.close()
        return Notebook(rel, _parse(data, path), data, info.st_mtime)
    raise NotBundled(409, f"{path} kept changing while it was read: try again in a moment.")


def from_model(model, path):
    """The notebook a contents manager returned (``model["path"]`` is not trusted)."""
    import nbformat

    notebook = nbformat.from_dict(model["content"])
    return Notebook(path, notebook, nbformat.writes(notebook).encode("utf-8"))


def prepare(notebook, tree, options, files_note=None):
    """The plan of ``notebook``'s bundle (``tree`` None: its files are not on this disk)."""
    if tree is not None:
        tree.check = options.check
    options.start_plan()
    try:
        plan = make_plan(notebook.content, notebook.path, tree, base_url=options.base_url,
                         allow_hidden=options.allow_hidden, max_bytes=options.max_bytes,
                         max_files=options.max_files, notebook_size=len(notebook.data),
                         files_note=files_note)
    except OverLimit as error:
        raise NotBundled(413, str(error)) from None
    return Bundle(plan, notebook, tree, options)


class Bundle:
    """A planned bundle; ``write`` makes the archive."""

    def __init__(self, plan, notebook, tree, options):
        self.plan, self.notebook, self.tree, self.options = plan, notebook, tree, options

    @property
    def filename(self):
        return f"{self.plan.top}.{self.options.format}"

    def _embeddable(self):
        limit = self.options.embed_max_bytes
        return {key: m for key, m in self.plan.images.items() if m.size <= limit}

    def write(self, sink):
        """Write the archive into ``sink`` (blocking: run it in a worker thread)."""
        options = self.options
        images = self._embeddable() if self.tree is not None else {}
        job = None
        if options.html or options.requirements:
            job = render.Job(self.notebook.data, html=options.html,
                             requirements=options.requirements, images=images,
                             timeout=options.html_timeout, memory=options.html_max_memory,
                             cancel=options.cancel)
        files = LocalFiles(self.tree.real_root) if self.tree is not None else None
        archive = open_archive(options.format, _Guarded(sink))
        try:
            self._write(archive, job, files, images)
        except BaseException:
            archive.abandon()
            raise
        finally:
            if files is not None:
                files.close()
            if job is not None:
                job.finish()

    def _write(self, archive, job, files, images):
        plan, options = self.plan, self.options
        top = plan.top
        listed, skipped = [], list(plan.skipped)

        def record(arcname, size, sha256, original=None):
            entry = {"path": arcname, "size": size, "sha256": sha256}
            if original is not None:
                entry["original"] = original
            listed.append(entry)

        record(plan.notebook_arcname, *archive.add_bytes(
            f"{top}/{plan.notebook_arcname}", self.notebook.data, self.notebook.mtime),
            plan.notebook_original)
        for member in plan.files:
            if options.cancel.is_set():
                raise Cancelled()
            reason = self._add_member(archive, files, member, record)
            if reason:
                # Named as it would have been in the bundle, like the manifest's files.
                skipped.append({"reference": member.arcname, "reason": reason})
        generated = {}
        requirements = None
        if options.requirements:
            try:
                requirements = job.requirements()
            except render.RenderFailed as error:
                log.warning("nbext_pkg: no requirements.txt for %s: %s", plan.notebook_arcname, error)
                skipped.append({"reference": plan.requirements_arcname, "reason": "failed"})
        if options.html:
            bound = options.html_max_memory + sum(m.size * 4 // 3 + 64 for m in images.values())
            try:
                record(plan.html_arcname, *archive.add_stream(
                    f"{top}/{plan.html_arcname}", self._html(job, files, images), time.time(), bound))
                generated["html"] = plan.html_arcname
            except render.RenderFailed as error:
                log.warning("nbext_pkg: no HTML copy of %s: %s", plan.notebook_arcname, error)
                skipped.append({"reference": plan.html_arcname, "reason": error.reason})
        if requirements is not None:
            data = requirements.encode("utf-8")
            record(plan.requirements_arcname,
                   *archive.add_bytes(f"{top}/{plan.requirements_arcname}", data))
            generated["requirements"] = plan.requirements_arcname
        generated["manifest"] = plan.manifest_arcname
        text = manifest.manifest(__version__, plan.notebook_arcname, self.notebook.content, listed,
                                 skipped, files_note=plan.files_note, generated=generated)
        archive.add_bytes(f"{top}/{plan.manifest_arcname}", text.encode("utf-8"))
        archive.close()

    def _add_member(self, archive, files, member, record):
        """Add one planned file; the reason it was left out, or None."""
        try:
            checked = files.open(member)
        except Changed as error:
            log.info("nbext_pkg: %s", error)
            return error.reason
        try:
            record(member.arcname, *archive.add_file(
                f"{self.plan.top}/{member.arcname}", checked, member.mtime_ns / 1e9),
                member.original)
        except Changed as error:
            log.info("nbext_pkg: %s", error)
            return "changed"
        except OSError as error:  # a read error, or no room to spool it
            log.warning("nbext_pkg: %s left out of the bundle: %s", member.rel, error)
            return "unreadable"
        finally:
            checked.close()
        return None

    def _html(self, job, files, images):
        """The HTML copy's bytes, images the plan accepted filled in as data URIs."""
        for kind, piece in job.pieces():
            if kind == "text":
                yield piece
                continue
            key, original = piece
            member = images.get(key)
            try:
                data = files.read_all(member) if member is not None else None
            except (Changed, OSError):
                data = None
            if data is None:
                yield original.encode("utf-8")
                continue
            mime = mimetypes.guess_type(member.rel)[0] or "application/octet-stream"
            yield f"data:{mime};base64,".encode("ascii")
            for at in range(0, len(data), _B64_BLOCK):
                yield base64.b64encode(data[at:at + _B64_BLOCK])


def local_tree(root, options):
    """A paths.Tree of the server root for one plan."""
    return Tree(root, allow_hidden=options.allow_hidden, check=options.check)


def is_our_bundle(path):
    """Whether the zip at ``path`` is a bundle nbext_pkg wrote (its manifest says so)."""
    import json
    import posixpath
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.count("/") == 1
                     and posixpath.basename(n).startswith("MANIFEST") and n.endswith(".json")]
            for name in names:
                doc = json.loads(zf.read(name))
                if isinstance(doc, dict) and (doc.get("generator") or {}).get("name") == "nbext_pkg":
                    return True
    except (OSError, ValueError, zipfile.BadZipFile):
        return False
    return False
