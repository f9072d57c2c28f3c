"""The tornado side of Open bundle on the tree page: ``POST <base_url>/nbext_pkg/open/<path>``
opens the archive at ``path`` (extract.py's rules) into a new folder beside it, off the event
loop, and answers 201 with where it went, which notebooks it holds and what did not match
its manifest; a refusal is a 400 with extract.py's sentence (507 for a full disk), and
nothing is left behind."""

import posixpath
import stat
import threading

from tornado import web

from ..config import settings_of
from . import extract
from .paths import Tree
from .pipeline import NotBundled, notebook_path
from .respond import NOT_ON_DISK, _Slot, local_root
from .stream import in_thread, watch_connection


async def respond_open(handler, path):
    settings = settings_of(handler.settings)
    cm = handler.contents_manager
    allow_hidden = bool(getattr(cm, "allow_hidden", False))
    root = local_root(cm)
    if root is None:
        raise web.HTTPError(
            400, NOT_ON_DISK.replace("a bundle cannot be saved into", "an archive cannot be opened in")
        )
    try:
        rel = notebook_path(path, allow_hidden)  # inside the root, not hidden
    except NotBundled as error:
        raise web.HTTPError(error.status, str(error).replace("notebooks", "archives")) from None

    def locate():
        tree = Tree(root, allow_hidden=allow_hidden)
        try:
            return tree.locate(rel), tree.real_root
        finally:
            tree.close()

    found, real_root = await in_thread(locate)  # the disk is looked at off the event loop
    if isinstance(found, str):
        raise web.HTTPError(
            404,
            f"No such archive: {rel}" if found == "missing" else f"{rel} cannot be opened here ({found}).",
        )
    real, info = found
    if not stat.S_ISREG(info.st_mode):
        raise web.HTTPError(400, f"{rel} is not an archive: tick a .zip, .tar or .tar.gz file.")
    cancel = threading.Event()
    watch_connection(handler, cancel)
    limits = extract.limits_from(settings, allow_hidden)
    with _Slot(settings):
        try:
            opened = await in_thread(
                lambda: extract.extract(
                    real,
                    posixpath.dirname(real),
                    limits=limits,
                    cancel=cancel,
                    expect=(info.st_dev, info.st_ino),
                )
            )  # the file located, not one swapped in since
        except extract.Cancelled:
            handler.log.info("nbext_pkg: the client left while %s was opened; nothing was kept", rel)
            return
        except extract.OpenFailed as error:
            # The server's own paths are not for the page: the folder as the tree shows it.
            said = str(error).replace(real_root + "/", "").replace(real_root, "/")
            status = {extract.Refused: 400, extract.DiskFull: 507, extract.NotWritable: 403}
            raise web.HTTPError(status.get(type(error), 500), said) from None
    # Named as the tree shows it: below the root, where it really is (an archive reached
    # through a link inside the root opens beside its target).
    folder = posixpath.relpath(opened.folder, real_root)
    handler.set_status(201)
    handler.set_header("Content-Type", "application/json")
    handler.finish(
        {
            "path": folder,
            "name": opened.name,
            "files": opened.files,
            "bytes": opened.bytes,
            "notebooks": [posixpath.join(folder, nb) for nb in opened.notebooks],
            "left_out": [
                {"member": extract.shown(member), "reason": reason} for member, reason in opened.left_out
            ],
            "ours": opened.manifest is not None,
            "mismatches": list(opened.mismatches),
        }
    )
