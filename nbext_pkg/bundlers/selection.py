"""A bundle of what is ticked in the tree page's list: files, folders and notebooks of one
folder, in one archive, by the rules a notebook bundle obeys (pipeline.py).

    bundle = prepare_selection(folder, names, options, tree=tree)
    bundle.write(sink)                      # streamed, in a worker thread

Every ticked name is one component of the folder the page shows, so a request names
nothing outside it; each then resolves as a notebook's reference would (inside the
root, not hidden, no link out), a folder within the bundle's limits. Every ticked
notebook is read by the child like a bundle's notebook, and its references are
followed from the same folder; each gets an HTML copy beside it (the setting applies).
One requirements.txt (and runtime.txt) pins the imports of all of them, from the
kernel the most of them name. One MANIFEST.json lists every member and every skip.

The archive is streamed (zip, tar.gz, tar): its length is not fixed in advance, since
the HTML copies are rendered while the files go out and the first byte need not wait
for them.
"""

import hashlib
import json
import posixpath
import time

from .._version import __version__
from . import digests, manifest, render
from .archive import open_archive
from .options import Cancelled, choose
from .paths import hidden, lexical
from .pipeline import (
    MAX_REFERENCES,
    NotBundled,
    SinkFailed,
    _Guarded,
    _read_failed,
    add_member,
    html_pieces,
    recorder,
    requirements_for,
)
from .plan import OverLimit, as_written, plan_selection
from .references import Reference
from .sources import Changed

MAX_NAMES = 10_000


def ticked_names(names):
    """The ticked names, checked: each one name inside the folder (no separator, not
    ``.`` or ``..``); NotBundled (400) otherwise."""
    if not isinstance(names, list) or not names:
        raise NotBundled(400, "Tick at least one file, folder or notebook to bundle.")
    if len(names) > MAX_NAMES:
        raise NotBundled(
            413,
            f"{len(names)} names are ticked, more than one selection bundle may "
            f"hold ({MAX_NAMES}): bundle their folder instead.",
        )
    seen = []
    for name in names:
        if (
            not isinstance(name, str)
            or name in ("", ".", "..")
            or "/" in name
            or "\\" in name
            or "\x00" in name
        ):
            raise NotBundled(
                400,
                f"{name!r} is not a name in this folder: a selection names files "
                "and folders of the folder shown, one by one.",
            )
        if name not in seen:
            seen.append(name)
    return seen


def selection_folder(folder, allow_hidden):
    """The root-relative folder the page shows; NotBundled (404) when it is not one."""
    rel = "" if folder.strip("/") == "" else lexical("", folder, True)
    if rel is None or "\x00" in folder:
        raise NotBundled(
            404, f"{folder} is outside the server's root: only what is inside it can be bundled."
        )
    if rel and not allow_hidden and hidden(rel):
        raise NotBundled(
            404, f"{folder} is hidden (a name in it starts with a dot), and hidden folders are not bundled."
        )
    return rel


def top_name(folder_rel, names, kinds):
    """The bundle's name: the ticked folder's own when it is the only thing ticked, else
    the shown folder's name (``files`` at the root) plus ``-selection``."""
    if len(names) == 1 and kinds.get(names[0]) == "folder":
        return names[0]
    return (posixpath.basename(folder_rel) or "files") + "-selection"


def read_whole(files, member):
    """A planned file's bytes, read as the plan saw it (from this disk or through the
    contents manager); Changed otherwise."""
    with files.open(member) as checked:
        data = b"".join(checked.blocks())
        checked.finish()
    return data


def _facts(files, member, options, skipped):
    """The facts of a ticked notebook, read by the child as a bundle's notebook is; None
    for one too large or not readable as a notebook (it goes in as a file, without an
    HTML copy, and ``skipped`` says why)."""
    if member.size > options.max_notebook_bytes:
        skipped.append({"reference": as_written(member.rel), "reason": "too-large"})
        return None
    try:
        data = [read_whole(files, member)]
    except Changed as error:
        skipped.append({"reference": as_written(member.rel), "reason": error.reason})
        return None
    if len(data[0]) > options.max_notebook_bytes:  # a size a store told only now
        skipped.append({"reference": as_written(member.rel), "reason": "too-large"})
        return None
    key = ("facts", hashlib.sha256(data[0]).hexdigest(), options.base_url, MAX_REFERENCES)
    facts = digests.FACTS.get(key)
    if facts is None:
        session = render.Session(options.html_max_memory, options.cancel)
        try:
            session.start()
            facts = session.read(
                len(data[0]),
                lambda: iter(data),
                base_url=options.base_url,
                max_references=MAX_REFERENCES,
                deadline=options.deadline,
            )
        except render.RenderFailed as error:
            if error.reason in ("failed", "too-large"):
                skipped.append(
                    {
                        "reference": as_written(member.rel),
                        "reason": "unreadable-notebook" if error.reason == "failed" else "too-large",
                    }
                )
                return None
            raise _read_failed(error, member.rel, options) from None
        finally:
            session.finish()
        digests.FACTS.put(key, facts, len(json.dumps(facts)))
    return facts


def prepare_selection(folder, names, options, *, tree, asked=None, layers=(), storage="disk"):
    """The planned bundle of ``names`` ticked in ``folder`` (root-relative, as the page
    shows it), read from ``tree`` (a paths.Tree or contents.ContentsTree)."""
    reading = []  # the plan's reader of ticked notebooks, made when the first is read
    try:
        options.start_plan()
        folder_rel = selection_folder(folder, options.allow_hidden)
        names = ticked_names(names)
        for name, value in choose(asked or {}, {}, layers).items():
            setattr(options, name, value)
        ticks = [Reference(name, name, False, "ticked") for name in names]
        unread = []

        def facts_of(member):
            if not reading:
                reading.append(tree.files(options, options.max_notebook_bytes))
            return _facts(reading[0], member, options, unread)

        try:
            plan, kinds = plan_selection(
                folder_rel,
                ticks,
                tree,
                max_bytes=options.max_bytes,
                max_files=options.max_files,
                notebooks=facts_of,
                top=lambda kinds: top_name(folder_rel, names, kinds),
            )
        except OverLimit as error:
            raise NotBundled(413, str(error)) from None
        plan.skipped.extend(unread)
        options.deadline = None
    except BaseException:
        _done_reading(tree, reading)
        tree.finished()
        raise
    finally:
        tree.close()
    _done_reading(tree, reading)
    return Selection(plan, tree, options, storage, names)


def _done_reading(tree, reading):
    """Close the plan's reader of notebooks; a store's reading process it took over goes
    back to the tree, for the writer (fetch.ContentsFiles takes it from there)."""
    for files in reading:
        process = getattr(files, "reader", None)
        if process is not None:
            files.reader, tree.reader = None, process
        files.close()
    reading.clear()


class Selection:
    """A planned selection bundle; ``write`` streams the archive."""

    length = etag = None  # streamed: not known before it is made

    def __init__(self, plan, tree, options, storage, names):
        self.plan, self.tree, self.options, self.storage = plan, tree, options, storage
        self.names = names

    @property
    def filename(self):
        return f"{self.plan.top}.{self.options.format}"

    def discard(self):
        self.tree.finished()

    def write(self, sink, start=0, end=None):
        """Write the whole archive into ``sink`` (blocking: a worker thread's work)."""
        options, plan = self.options, self.plan
        files = archive = None
        try:
            files = self.tree.files(options, options.max_bytes - plan.total_bytes, plan.images)
            archive = open_archive(options.format, _Guarded(sink))
            self._write(archive, files)
        except BaseException:
            if archive is not None:
                archive.abandon()
            raise
        finally:
            if files is not None:
                files.close()
            self.discard()

    def _write(self, archive, files):
        plan, options = self.plan, self.options
        listed, skipped = [], list(plan.skipped)

        record = recorder(listed)

        written = set()
        for member in plan.files:
            if options.cancel.is_set():
                raise Cancelled()
            reason = add_member(archive, files, member, plan.top, record, self.tree)
            if reason:
                skipped.append({"reference": member.arcname, "reason": reason})
            else:
                written.add(member.rel)
        notebooks = []
        for ticked in plan.notebooks:
            entry = {"path": ticked.member.arcname, "kernelspec": ticked.facts.get("kernelspec")}
            notebooks.append(entry)
            if not options.html or ticked.member.rel not in written:
                continue
            if self._html_copy(archive, files, ticked, record, skipped):
                entry["html"] = ticked.html_arcname
        generated = {}
        facts = [t.facts for t in plan.notebooks]
        about = None
        made = (
            requirements_for(facts, options, skipped, plan.requirements_arcname)
            if options.requirements and facts
            else None
        )
        if made is not None:
            text, runtime, about = made
            pieces = [(plan.requirements_arcname, "requirements", text)]
            if runtime is not None:
                pieces.append((plan.runtime_arcname, "runtime", runtime))
            for arcname, kind, body in pieces:
                record(arcname, *archive.add_bytes(f"{plan.top}/{arcname}", body.encode("utf-8")))
                generated[kind] = arcname
        generated["manifest"] = plan.manifest_arcname
        doc = manifest.document(
            __version__,
            None,
            {},
            listed,
            skipped,
            generated=generated,
            storage=self.storage,
            environment=about,
        )
        # A selection has no one notebook: each ticked one is listed with its HTML copy.
        doc["selection"] = {
            "folder": as_written(plan.folder),
            "names": [as_written(n) for n in self.names],
            "notebooks": notebooks,
        }
        archive.add_bytes(f"{plan.top}/{plan.manifest_arcname}", manifest.dumps(doc))
        archive.close()

    def _html_copy(self, archive, files, ticked, record, skipped):
        """Add one notebook's HTML copy; whether it went in."""
        options, plan = self.options, self.plan
        session = render.Session(options.html_max_memory, options.cancel)
        try:
            session.start()
            data = [read_whole(files, ticked.member)]
            session.read(
                len(data[0]),
                lambda: iter(data),
                base_url=options.base_url,
                max_references=MAX_REFERENCES,
                deadline=time.monotonic() + options.plan_timeout,
            )
            data.clear()
            session.render(images=ticked.images, timeout=options.html_timeout)
            record(
                ticked.html_arcname,
                *archive.add_stream(
                    f"{plan.top}/{ticked.html_arcname}",
                    html_pieces(session, files, ticked.images, options),
                    time.time(),
                    None,
                ),
            )
            return True
        except (Cancelled, SinkFailed):
            raise
        except Exception as error:  # whatever it was, it costs this HTML copy only
            known = isinstance(error, render.RenderFailed) and error.reason in ("timeout", "too-large")
            skipped.append(
                {
                    "reference": ticked.html_arcname,
                    "reason": f"html-{error.reason}" if known else "html-failed",
                }
            )
            return False
        finally:
            session.finish()
