"""A bundle saved into the workspace, beside its notebook or in the folder a selection came
from, rather than downloaded (on a hub the download is the slow part).

The archive is written to a hidden temporary file in that folder, opened through the
folder's descriptor (no link followed, nothing replaced), then given its name with a hard
link, which fails rather than replace a file that took the name meanwhile; the next free
name is then tried. Whatever goes wrong (a full disk, the client gone, the server told to
stop) removes the temporary file: no half-written bundle is ever left under a user's name.
Imports neither tornado nor notebook.
"""

import errno
import os
import secrets

from .options import Cancelled
from .pipeline import SinkFailed

MAX_TRIES = 1000
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class NotSaved(Exception):
    """No bundle was saved (and nothing was left behind); ``status`` for the routes."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def candidates(filename):
    """``name.zip``, then ``name-1.zip``, ``name-2.zip``, ... (the archive's double suffix
    ``.tar.gz`` kept whole)."""
    for suffix in (".tar.gz", ".zip", ".tar"):
        if filename.endswith(suffix):
            stem = filename[: -len(suffix)]
            break
    else:
        stem, suffix = os.path.splitext(filename)
    yield filename
    for n in range(1, MAX_TRIES):
        yield f"{stem}-{n}{suffix}"


class _FileSink:
    """The temporary file, as the bundle's sink; a cancelled request stops the writes."""

    def __init__(self, fd, cancel):
        self.fd, self.cancel = fd, cancel
        self.size = 0

    def write(self, data):
        if self.cancel.is_set():
            raise Cancelled()
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
            self.size += written
        return len(data)

    def flush(self):
        pass


def save(bundle, real_folder, filename):
    """Write ``bundle`` (pipeline.Bundle or selection.Selection) into ``real_folder`` under
    ``filename`` or the first free name after it; (name, size). NotSaved otherwise."""
    try:
        folder = os.open(real_folder, _DIR_FLAGS)
    except OSError as error:
        bundle.discard()
        raise NotSaved(404, f"The folder to save the bundle in cannot be opened: {error.strerror}.") from None
    temporary = f".nbext_pkg-save-{os.getpid()}-{secrets.token_hex(8)}.part"
    fd = None
    try:
        try:
            fd = os.open(temporary, _NEW_FILE, 0o644, dir_fd=folder)
        except OSError as error:
            bundle.discard()
            raise _failed(error) from None
        sink = _FileSink(fd, bundle.options.cancel)
        try:
            bundle.write(sink)
            os.fsync(fd)
        except SinkFailed as error:
            raise _failed(error.__cause__ or error) from None
        os.close(fd)
        fd = None
        for name in candidates(filename):
            try:
                os.link(temporary, name, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)
            except FileExistsError:
                continue
            except OSError as error:
                raise _failed(error) from None
            return name, sink.size
        raise NotSaved(409, f"{filename} and the next {MAX_TRIES - 1} names after it are taken: "
                            "move some of them away and save again.")
    finally:
        if fd is not None:
            os.close(fd)
        try:
            os.unlink(temporary, dir_fd=folder)
        except OSError:
            pass
        os.close(folder)


def _failed(error):
    if getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        return NotSaved(507, "The disk is full: the bundle was not saved, and nothing of it was "
                             "left behind. Free some space, or download the bundle instead.")
    if getattr(error, "errno", None) in (errno.EACCES, errno.EPERM, errno.EROFS):
        return NotSaved(403, "This folder cannot be written to, so the bundle was not saved: "
                             "download it instead.")
    return NotSaved(500, f"The bundle could not be saved ({error}); nothing of it was left behind.")
