"""The one way a bundle is made, for both routes and the nbconvert exporter:

    bundle = prepare(path, options, tree=tree)      # or model=... from a contents manager
    bundle.write(sink)                              # the archive, in a worker thread

``prepare`` reads the notebook's file by the rules its files obey, has a child process
read its text (render.Session: no parser or regular expression over user text runs in
the server), and plans the bundle: names, limits, skips. ``write`` reads every file
through ``sources.LocalFiles``, which opens only what the plan checked, while the same
child renders requirements.txt and the HTML copy. Whatever goes wrong with one file is a
``skipped`` entry with a reason; the archive is always valid. Imports neither tornado nor
notebook: errors a person must see before the first byte are :class:`NotBundled`, with
the HTTP status the routes answer with.
"""

import base64
import hashlib
import io
import json
import logging
import mimetypes
import stat
import tempfile
import threading
import time
from dataclasses import dataclass

from .._version import __version__
from . import digests, environment, manifest, render, sized
from .archive import SPOOL_MEMORY, open_archive
from .options import Cancelled, PlanTimeout, choose
from .paths import Resolved, Tree, hidden, lexical
from .plan import OverLimit, human, plan_from
from .references import Reference
from .sources import Changed, LocalFiles

log = logging.getLogger("nbext_pkg")
_B64_BLOCK = 3 * 256 * 1024
_BLOCK = 1024 * 1024
MAX_REFERENCES = 20_000


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
    """The notebook to bundle: its path below the root and its bytes (in a spool)."""

    path: str
    spool: object
    size: int
    mtime: float = None
    sha256: str = None

    def blocks(self):
        self.spool.seek(0)
        while True:
            block = self.spool.read(_BLOCK)
            if not block:
                return
            yield block


def notebook_path(path, allow_hidden=False):
    """The root-relative path the request names, by the rules its files obey."""
    rel = lexical("", path, True) if "\x00" not in path else None
    if not rel:
        raise NotBundled(
            404, f"{path} is outside the server's root: only notebooks inside it can be bundled."
        )
    if not allow_hidden and hidden(rel):
        raise NotBundled(
            404, f"{path} is hidden (a name in it starts with a dot), and hidden notebooks are not bundled."
        )
    return rel


def too_large(path, size, options):
    """NotBundled (413) for a notebook of ``size`` bytes over the limit."""
    if size > options.max_notebook_bytes:
        raise NotBundled(
            413,
            f"{path} holds {human(size)}, more than the server's limit for a "
            f"notebook of {human(options.max_notebook_bytes)} "
            "(c.NbextPkg.max_notebook_bytes).",
        )


def locate_notebook(tree, path, options):
    """(root-relative path, Resolved) of the notebook at ``path`` below ``tree``'s root,
    by the rules its files obey; NotBundled otherwise."""
    rel = notebook_path(path, options.allow_hidden)
    found = tree.locate(rel)
    if found == "missing":
        raise NotBundled(404, f"No such notebook: {path}")
    if found == "symlink-outside-root":
        raise NotBundled(
            404, f"{path} leads outside the server's root through a symbolic link, so it is not bundled."
        )
    if found == "hidden":
        raise NotBundled(404, f"{path} leads to a hidden file through a symbolic link, so it is not bundled.")
    if isinstance(found, str):
        raise NotBundled(403, f"{path} could not be read.")
    real, info = found
    if not stat.S_ISREG(info.st_mode):
        raise NotBundled(400, f"{path} is not a notebook: only .ipynb notebooks can be bundled.")
    return rel, Resolved(
        real, rel, info.st_size, info.st_dev, info.st_ino, info.st_mtime_ns, info.st_ctime_ns
    )


def local_notebook(tree, path, options):
    """The notebook at ``path`` below ``tree``'s root, read as the rules allow, into a
    spool (memory for small ones, a temporary file for large ones)."""
    for _ in range(3):
        rel, item = locate_notebook(tree, path, options)
        too_large(path, item.size, options)
        files = LocalFiles(tree.real_root)
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY, prefix="nbext_pkg-")
        sha = hashlib.sha256()
        try:
            with files.open(item) as checked:
                for block in checked.blocks():
                    spool.write(block)
                    sha.update(block)
                checked.finish()
        except Changed:
            spool.close()
            continue  # saved just now: look again
        finally:
            files.close()
        return Notebook(rel, spool, item.size, item.mtime_ns / 1e9, sha.hexdigest())
    raise NotBundled(409, f"{path} kept changing while it was read: try again in a moment.")


def from_model(model, path, options):
    """The notebook a contents manager returned, as a notebook or as the text of its file
    (``model["path"]`` is not trusted)."""
    content = model["content"]
    if isinstance(content, str):
        data = content.encode("utf-8", "surrogateescape")
    elif isinstance(content, bytes):
        data = content
    else:
        import nbformat

        data = nbformat.writes(nbformat.from_dict(content)).encode("utf-8")
    too_large(path, len(data), options)
    return Notebook(path, io.BytesIO(data), len(data), sha256=hashlib.sha256(data).hexdigest())


def prepare(path, options, *, tree, model=None, asked=None, layers=(), storage="disk", sized_up=True):
    """The planned bundle of the notebook at ``path``: read from ``tree`` (a paths.Tree of
    the server root on this disk), or given as a contents manager's ``model`` (``tree``
    then says where its files are: a paths.Tree, a contents.ContentsTree, or a
    contents.Nowhere). ``asked`` are the request's choices, ``layers`` the nbconfig ones
    (see options.choose); ``storage`` names where the files come from, for the manifest;
    ``sized_up`` False: made as it is written, even where it could be sized (a bundle saved
    into the workspace needs no length, and a tar's file that changes is then left out)."""
    session = render.Session(options.html_max_memory, options.cancel)
    notebook = None
    try:
        session.start()
        options.start_plan()
        if model is None:
            notebook = local_notebook(tree, path, options)
        else:
            if isinstance(tree, Tree) and tree.on_disk(notebook_path(path, options.allow_hidden)):
                # A notebook the manager converts (jupytext) or a mixed manager keeps on
                # this disk obeys the disk's rules, as its files do.
                locate_notebook(tree, path, options)
            notebook = from_model(model, path, options)
        facts_key = ("facts", notebook.sha256, options.base_url, MAX_REFERENCES)
        facts = digests.FACTS.get(facts_key)
        read = facts is None
        if read:  # the same bytes read the same way have the same facts
            facts = _read(session, notebook, options, path, options.deadline)
            digests.FACTS.put(facts_key, facts, len(json.dumps(facts)))
        for name, value in choose(asked or {}, facts["bundle"], layers).items():
            setattr(options, name, value)
        references = [Reference(*ref) for ref in facts["references"]]
        try:
            plan = plan_from(
                references,
                facts["excludes"],
                notebook.path,
                tree,
                allow_hidden=options.allow_hidden,
                max_bytes=options.max_bytes,
                max_files=options.max_files,
                notebook_size=notebook.size,
            )
        except OverLimit as error:
            raise NotBundled(413, str(error)) from None
        options.deadline = None  # the plan is made: what follows has deadlines of its own
        if facts["more_references"]:
            plan.skipped.append(
                {"reference": f"{facts['more_references']} more references", "reason": "limit"}
            )
    except BaseException:
        session.finish()
        if notebook is not None:
            notebook.spool.close()
        tree.finished()
        raise
    finally:
        tree.close()
    bundle = Bundle(plan, notebook, facts, tree, options, session, storage)
    bundle.child_read = read
    if sized_up and model is None and options.format in sized.SIZED_FORMATS and tree.disk_root():
        try:
            bundle.size_up()
        except BaseException:
            bundle.discard()
            raise
    return bundle


def _read(session, notebook, options, path, deadline):
    """The notebook's facts, as the child reads them."""
    try:
        return session.read(
            notebook.size,
            notebook.blocks,
            base_url=options.base_url,
            max_references=MAX_REFERENCES,
            deadline=deadline,
        )
    except render.RenderFailed as error:
        raise _read_failed(error, path, options) from None


def _read_failed(error, path, options):
    """What a person is told when the child could not read the notebook."""
    if error.reason == "failed":
        return NotBundled(400, f"Unreadable Notebook: {path}: {error}")
    if error.reason == "timeout":
        return PlanTimeout(
            f"Reading {path} took longer than the plan may take "
            f"({options.plan_timeout:g} s, c.NbextPkg.bundle_plan_timeout)."
        )
    if error.reason == "too-large":
        return NotBundled(
            413,
            f"{path} needs more memory to be read than the bundle's reader "
            "may take (c.NbextPkg.bundle_html_max_memory).",
        )
    return NotBundled(
        503,
        f"The process that reads notebooks for bundles is not available ({error}): try again in a moment.",
    )


class Bundle:
    """A planned bundle; ``write`` makes the archive (and ends the child's session)."""

    def __init__(self, plan, notebook, facts, tree, options, session, storage="disk"):
        self.plan, self.notebook, self.facts = plan, notebook, facts
        self.tree, self.options, self.session = tree, options, session
        self.storage = storage
        self.sized = None  # a sized.SizedArchive once size_up has made every member
        self.child_read = True  # False: the facts were remembered, the child has not read it

    @property
    def length(self):
        """The archive's length in bytes, where it is known before the first byte."""
        return self.sized.length if self.sized is not None else None

    @property
    def etag(self):
        return self.sized.etag if self.sized is not None else None

    @property
    def filename(self):
        return f"{self.plan.top}.{self.options.format}"

    def _embeddable(self):
        limit = self.options.embed_max_bytes
        return {key: m for key, m in self.plan.images.items() if m.size <= limit}

    def discard(self):
        """For a bundle that will not be written (and at the end of one that was)."""
        self.session.finish()
        self.notebook.spool.close()
        if self.sized is not None:
            self.sized.close()
        self.tree.finished()

    def size_up(self):
        """Make every member now, so that the archive's length, its ETag and any range of
        it are known before the first byte (sized.py): the HTML copy and requirements.txt
        are rendered, and small files deflated, while the request waits for its headers."""
        options, plan = self.options, self.plan
        images = self._embeddable()
        # The child renders while small files are deflated here (sized.build).
        started = self._start_generated(images)
        files = self.tree.files(options, options.max_bytes, images)

        pinned = self._start_requirements()

        def generated():
            made, skipped, names = self._generated(started, files, images)
            about = self._add_requirements(pinned(), made, names, skipped)
            meta = {"kernelspec": self.facts["kernelspec"], "language_info": self.facts["language_info"]}
            names["manifest"] = plan.manifest_arcname
            doc = manifest.document(
                __version__,
                plan.notebook_arcname,
                {"metadata": meta},
                None,
                list(plan.skipped) + skipped,
                generated=names,
                storage=self.storage,
                environment=about,
            )
            return made, doc

        # (An mtime of 0 is a time: 1970, written as 1980 in a zip; never "now", which
        # would make every plan of the same notebook another bundle.)
        mtime = self.notebook.mtime if self.notebook.mtime is not None else time.time()
        notebook = (plan.notebook_arcname, self.notebook.spool, mtime, plan.notebook_original)
        try:
            self.sized = sized.build(
                options.format,
                self.tree.disk_root(),
                plan.top,
                notebook,
                plan.files,
                generated,
                plan.manifest_arcname,
            )
        finally:
            files.close()

    def _start_requirements(self):
        """A callable that gives what requirements_for says of this notebook, asked now on
        a thread of its own (the kernel's interpreter answers while files are deflated)."""
        if not self.options.requirements:
            return lambda: None
        found, skipped = [], []

        def ask():
            try:
                found.append(
                    requirements_for([self.facts], self.options, skipped, self.plan.requirements_arcname)
                )
            except BaseException as error:
                found.append(error)

        thread = threading.Thread(target=ask, name="nbext_pkg-requirements", daemon=True)
        thread.start()

        def result():
            while thread.is_alive():
                thread.join(0.25)
                if self.options.cancel.is_set():
                    raise Cancelled()
            if isinstance(found[0], BaseException):
                raise found[0]
            return found[0], skipped

        return result

    def _add_requirements(self, pinned, made, names, skipped):
        """Put requirements.txt and runtime.txt (as ``pinned`` says) into ``made`` and
        ``names``; the Environment they come from, or None."""
        if pinned is None:
            return None
        result, failed = pinned
        skipped.extend(failed)
        if result is None:
            return None
        text, runtime, about = result
        made.append((self.plan.requirements_arcname, text.encode("utf-8")))
        names["requirements"] = self.plan.requirements_arcname
        if runtime is not None:
            made.append((self.plan.runtime_arcname, runtime.encode("utf-8")))
            names["runtime"] = self.plan.runtime_arcname
        return about

    def _start_generated(self, images):
        """(memo key, what the memo knows or None); starts the child's render when the memo
        does not know the HTML copy of this notebook and images."""
        options = self.options
        if not options.html:
            self.session.finish()
            return None, None
        key = (
            "rendered",
            self.notebook.sha256,
            options.base_url,
            options.embed_max_bytes,
            options.embed_total_bytes,
            tuple(sorted((k, m.dev, m.ino, m.size, m.mtime_ns) for k, m in images.items())),
        )
        known = digests.RENDERED.get(key)
        if known is not None:
            self.session.finish()
        else:
            self._start_render(images)
        return key, known

    def _generated(self, started, files, images):
        """([(arcname, bytes or spool)], skipped entries, {"html": ...}) for the HTML copy:
        as made for the same notebook, options and images a moment ago
        (digests.RENDERED), or now."""
        plan = self.plan
        key, known = started
        if key is None:
            return [], [], {}
        if known is None:
            made, skipped, names = self._render(files, images)
            self.session.finish()
            if skipped or not made:  # a failure is not remembered: the next bundle tries again
                return made, skipped, names
            html = made[0][1]
            if not isinstance(html, bytes):
                html.seek(0, io.SEEK_END)
                if html.tell() > SPOOL_MEMORY:
                    return made, skipped, names
                html.seek(0)
                html = html.read()
            digests.RENDERED.put(key, html, len(html) + 200)
            known = html
        return [(plan.html_arcname, known)], [], {"html": plan.html_arcname}

    def _start_render(self, images):
        options, session = self.options, self.session
        if not self.child_read:  # the facts were remembered: the child reads it now
            _read(
                session,
                self.notebook,
                options,
                self.plan.notebook_arcname,
                time.monotonic() + options.plan_timeout,
            )
            self.child_read = True
        session.render(images=images, timeout=options.html_timeout)

    def _render(self, files, images):
        """What the child's render (started by _start_render) made, as _generated says."""
        plan = self.plan
        made, skipped, names = [], [], {}
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY, prefix="nbext_pkg-")
        try:
            for piece in html_pieces(self.session, files, images, self.options):
                spool.write(piece)
            made.append((plan.html_arcname, spool))
            names["html"] = plan.html_arcname
        except Cancelled:
            spool.close()
            raise
        except Exception as error:  # whatever else it was, it costs the HTML copy only
            spool.close()
            skipped.append(no_html(error, plan.html_arcname))
        return made, skipped, names

    def write(self, sink, start=0, end=None):
        """Write the archive into ``sink`` (blocking: run it in a worker thread): all of it,
        or for a sized bundle the bytes ``start`` to ``end`` (exclusive)."""
        if self.sized is not None:
            try:
                self.sized.write(_Guarded(sink), start, end)
            finally:
                self.discard()
            return
        options = self.options
        files = archive = None
        try:
            images = self._embeddable()
            if options.html:
                self._start_render(images)
            else:
                self.session.finish()  # nothing more to ask of the child: another bundle may
            # What is left of the byte limit for the files whose size the plan could not know.
            budget = options.max_bytes - self.notebook.size - self.plan.total_bytes
            files = self.tree.files(options, budget, images) if self.plan.files else None
            archive = open_archive(options.format, _Guarded(sink))
            self._write(archive, files, images)
        except BaseException:
            if archive is not None:
                archive.abandon()
            raise
        finally:
            if files is not None:
                files.close()
            self.discard()

    def _write(self, archive, files, images):
        plan, options = self.plan, self.options
        top = plan.top
        listed, skipped = [], list(plan.skipped)

        record = recorder(listed)

        record(
            plan.notebook_arcname,
            *archive.add_stream(
                f"{top}/{plan.notebook_arcname}",
                self.notebook.blocks(),
                self.notebook.mtime or time.time(),
                self.notebook.size,
            ),
            plan.notebook_original,
        )
        for member in plan.files:
            if options.cancel.is_set():
                raise Cancelled()
            reason = self._add_member(archive, files, member, record)
            if reason:
                # Named as it would have been in the bundle, like the manifest's files.
                skipped.append({"reference": member.arcname, "reason": reason})
        generated = {}
        pinned = self._start_requirements()
        if options.html:
            try:
                record(
                    plan.html_arcname,
                    *archive.add_stream(
                        f"{top}/{plan.html_arcname}",
                        html_pieces(self.session, files, images, options),
                        time.time(),
                        None,
                    ),
                )
                generated["html"] = plan.html_arcname
            except (Cancelled, SinkFailed):
                raise
            except Exception as error:  # whatever else it was, it costs the HTML copy only
                skipped.append(no_html(error, plan.html_arcname))
        made = []
        about = self._add_requirements(pinned(), made, generated, skipped)
        for arcname, data in made:
            record(arcname, *archive.add_bytes(f"{top}/{arcname}", data))
        generated["manifest"] = plan.manifest_arcname
        meta = {"kernelspec": self.facts["kernelspec"], "language_info": self.facts["language_info"]}
        text = manifest.manifest(
            __version__,
            plan.notebook_arcname,
            {"metadata": meta},
            listed,
            skipped,
            generated=generated,
            storage=self.storage,
            environment=about,
        )
        # (A name or reference with undecodable bytes holds lone surrogates: written as
        # JSON escapes, never a reason to lose the manifest.)
        archive.add_bytes(f"{top}/{plan.manifest_arcname}", text.encode("utf-8", "backslashreplace"))
        archive.close()

    def _add_member(self, archive, files, member, record):
        return add_member(archive, files, member, self.plan.top, record, self.tree)


def recorder(listed):
    """``record(arcname, size, sha256, original=None, storage=None)``: a manifest entry
    for each member written, appended to ``listed``."""

    def record(arcname, size, sha256, original=None, storage=None):
        entry = {"path": arcname, "size": size, "sha256": sha256}
        if original is not None:
            entry["original"] = original
        if storage is not None:
            entry["storage"] = storage
        listed.append(entry)

    return record


def requirements_for(facts, options, skipped, arcname):
    """(requirements.txt, runtime.txt or None, environment.Environment) for notebooks of
    ``facts`` (their imports, in order, once each), pinned in the environment of the
    kernel the most of them name (environment.py); None, and a ``skipped`` entry, when
    no interpreter could say."""
    imports, kernels = [], {}
    for one in facts:
        for module in one.get("imports") or ():
            if module not in imports:
                imports.append(module)
        spec = one.get("kernelspec")
        # Counted by name: the same kernel under two display names is one kernel.
        key = spec.get("name") if isinstance(spec, dict) else None
        kernels.setdefault(json.dumps(key, default=str), [0, spec, one.get("language_info")])[0] += 1
    _, kernelspec, language_info = max(kernels.values(), key=lambda k: k[0]) if kernels else (0, None, None)
    specs = options.kernel_specs if options.kernel_specs is not None else environment.default_specs()
    try:
        env = environment.of_notebook(
            imports,
            kernelspec,
            language_info,
            specs,
            timeout=options.requirements_timeout,
            log=log,
            cancel=options.cancel,
        )
    except environment.ProbeFailed as error:
        log.warning("nbext_pkg: no requirements.txt: %s", error)
        skipped.append({"reference": arcname, "reason": "failed"})
        return None
    python = environment.is_python(kernelspec, language_info)
    return env.requirements(imports), env.runtime() if python else None, env


def no_html(error, arcname):
    """The manifest's entry for an HTML copy that ``error`` cost."""
    known = isinstance(error, render.RenderFailed) and error.reason in ("timeout", "too-large")
    log.warning("nbext_pkg: no HTML copy %s: %s", arcname, error)
    return {"reference": arcname, "reason": f"html-{error.reason}" if known else "html-failed"}


def add_member(archive, files, member, top, record, tree):
    """Add one planned file below ``top``; the reason it was left out, or None."""
    try:
        checked = files.open(member)
    except Changed as error:
        log.info("nbext_pkg: %s", error)
        return error.reason
    except (Cancelled, SinkFailed):
        raise
    except Exception as error:  # a store that failed in a way of its own: this file only
        log.warning("nbext_pkg: %s left out of the bundle: %r", member.rel, error)
        return "unreadable"
    try:
        record(
            member.arcname,
            *archive.add_file(f"{top}/{member.arcname}", checked, member.mtime_ns / 1e9),
            member.original,
            tree.storage_of(member.rel),
        )
    except Changed as error:  # moved while read, or came damaged (contents.py)
        log.info("nbext_pkg: %s", error)
        return error.reason
    except (Cancelled, SinkFailed):
        raise
    except Exception as error:  # a read error, no room to spool it, anything: this file only
        log.warning("nbext_pkg: %s left out of the bundle: %s", member.rel, error)
        return "unreadable"
    finally:
        checked.close()
    return None


def html_pieces(session, files, images, options):
    """The HTML copy's bytes as ``session``'s child rendered it, images the plan accepted
    filled in as data URIs, up to the embedding budget (an image shown twice costs twice)."""
    budget = options.embed_total_bytes
    for kind, piece in session.pieces():
        if kind == "text":
            yield piece
            continue
        key, original = piece
        member = images.get(key)
        data = None
        if member is not None and member.size <= budget:
            try:
                data = files.read_all(member, min(budget, options.embed_max_bytes))
            except (Changed, OSError):
                data = None
        if data is not None and len(data) > min(budget, options.embed_max_bytes):
            data = None  # a size learnt only now (contents.py)
        if data is None:
            yield original.encode("utf-8")
            continue
        budget -= len(data)
        mime = mimetypes.guess_type(member.rel)[0] or "application/octet-stream"
        yield f"data:{mime};base64,".encode("ascii")
        for at in range(0, len(data), _B64_BLOCK):
            yield base64.b64encode(data[at : at + _B64_BLOCK])


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
            names = [
                n
                for n in zf.namelist()
                if n.count("/") == 1 and posixpath.basename(n).startswith("MANIFEST") and n.endswith(".json")
            ]
            for name in names:
                doc = json.loads(zf.read(name))
                if isinstance(doc, dict) and (doc.get("generator") or {}).get("name") == "nbext_pkg":
                    return True
    except (OSError, ValueError, zipfile.BadZipFile):
        return False
    return False
