"""A bundle saved into the workspace, beside its notebook or in the folder a selection came
from, rather than downloaded (on a hub the download is the slow part).

The archive is written to a file of that folder that has no name yet (``O_TMPFILE``,
opened through the folder's descriptor: no link followed), then given its name with a
hard link, which fails rather than replace a file that took the name meanwhile; the next
free name is then tried. Whatever goes wrong (a full disk, the client gone, the server
told to stop, even killed) leaves nothing: a file without a name goes with its last
descriptor. Where the file system cannot make such files, a hidden temporary file
(``.nbext_pkg-save-<host>-<pid>-<random>.part``) takes its place, removed on every
failure the process sees, and by the next save in that folder when its process died.
Imports neither tornado nor notebook.
"""

import errno
import os
import re
import secrets
import socket

from .folders import alive
from .options import Cancelled
from .pipeline import SinkFailed

MAX_TRIES = 1000
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


TEMP_PREFIX = ".nbext_pkg-save-"
TEMP = re.compile(re.escape(TEMP_PREFIX) + r"(.+)-(\d+)-[0-9a-f]{16}\.part")


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


def sweep(folder):
    """Remove the temporary files dead saves of this machine left in the folder (fd)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        found = TEMP.fullmatch(name)
        if (
            found
            and found[1] == socket.gethostname()
            and int(found[2]) != os.getpid()
            and not alive(int(found[2]))
        ):
            try:
                os.unlink(name, dir_fd=folder)
            except OSError:
                pass


def _temporary(folder):
    """(fd, name or None): a file of the folder with no name yet, else a hidden one."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is not None:
        try:
            return os.open(".", flag | os.O_WRONLY | os.O_CLOEXEC, 0o644, dir_fd=folder), None
        except OSError as error:
            if error.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                raise
    sweep(folder)
    name = f"{TEMP_PREFIX}{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(8)}.part"
    return os.open(name, _NEW_FILE, 0o644, dir_fd=folder), name


def _link(fd, temporary, folder, name):
    if temporary is None:
        os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=folder, follow_symlinks=True)
    else:
        os.link(temporary, name, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)


def save(bundle, real_folder, filename):
    """Write ``bundle`` (pipeline.Bundle or selection.Selection) into ``real_folder`` under
    ``filename`` or the first free name after it; (name, size). NotSaved otherwise."""
    try:
        folder = os.open(real_folder, _DIR_FLAGS)
    except OSError as error:
        bundle.discard()
        raise NotSaved(404, f"The folder to save the bundle in cannot be opened: {error.strerror}.") from None
    fd = temporary = None
    try:
        try:
            fd, temporary = _temporary(folder)
        except OSError as error:
            bundle.discard()
            raise _failed(error) from None
        sink = _FileSink(fd, bundle.options.cancel)
        try:
            bundle.write(sink)
            os.fsync(fd)
        except SinkFailed as error:
            raise _failed(error.__cause__ or error) from None
        except OSError as error:
            raise _failed(error) from None
        for name in candidates(filename):
            try:
                _link(fd, temporary, folder, name)
            except FileExistsError:
                continue
            except OSError as error:
                raise _failed(error) from None
            return name, sink.size
        raise NotSaved(
            409,
            f"{filename} and the next {MAX_TRIES - 1} names after it are taken: "
            "move some of them away and save again.",
        )
    finally:
        if fd is not None:
            os.close(fd)
        if temporary is not None:
            try:
                os.unlink(temporary, dir_fd=folder)
            except OSError:
                pass
        os.close(folder)


def _failed(error):
    if getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        return NotSaved(
            507,
            "The disk is full: the bundle was not saved, and nothing of it was "
            "left behind. Free some space, or download the bundle instead.",
        )
    if getattr(error, "errno", None) in (errno.EACCES, errno.EPERM, errno.EROFS):
        return NotSaved(
            403, "This folder cannot be written to, so the bundle was not saved: download it instead."
        )
    return NotSaved(500, f"The bundle could not be saved ({error}); nothing of it was left behind.")
