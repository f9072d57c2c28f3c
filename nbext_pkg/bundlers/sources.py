"""Where a bundle's bytes come from: the files on this disk, read as the plan checked them.

The plan decides with paths (``paths.Tree``); by the time a file is read, any of those
paths may have been swapped for a symlink, a folder, a FIFO or another file. So a file is
never opened by its path as a whole: each folder on the way is opened with
``O_NOFOLLOW`` relative to the one before it, starting from the root, and the file itself
with ``O_NOFOLLOW | O_NONBLOCK`` (a FIFO cannot hang the open). Only a regular file whose
device and inode, size, mtime and ctime are the ones the plan recorded is read; anything else
raises :class:`Changed`. A file that changes while it is read (its size, mtime or ctime
move, or more bytes than planned are there) raises :class:`Changed` at the end, so the
caller can leave out what it wrote of it.

Standard library only; one ``LocalFiles`` per writer thread.
"""

import os
import stat

READ_SIZE = 1024 * 1024

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


class Changed(Exception):
    """The planned file is not the one the plan saw any more, or changed while read;
    ``reason`` is the manifest's word for it ("missing" once it is gone)."""

    reason = "changed"


class Missing(Changed):
    reason = "missing"


def _same(info, item):
    # ctime as well, where the plan knows it: a file written to with its mtime put back is
    # not the one the plan saw (no call sets a ctime back).
    ctime = getattr(item, "ctime_ns", 0)
    return (
        stat.S_ISREG(info.st_mode)
        and info.st_dev == item.dev
        and info.st_ino == item.ino
        and info.st_size == item.size
        and info.st_mtime_ns == item.mtime_ns
        and (not ctime or info.st_ctime_ns == ctime)
    )


class Blocks:
    """``blocks()`` for a file-like object with ``read()``: its bytes, block by block
    (then call ``finish``, where it has one)."""

    def blocks(self):
        while True:
            block = self.read()
            if not block:
                return
            yield block


class CheckedFile(Blocks):
    """A planned file opened safely: ``read`` gives at most its planned size, ``finish``
    proves nothing moved while it was read."""

    def __init__(self, fd, item):
        self.fd, self.item = fd, item
        self.opened = os.fstat(fd)
        self.left = item.size

    def read(self, n=READ_SIZE):
        if self.left <= 0:
            return b""
        data = os.read(self.fd, min(n, self.left, 16 * READ_SIZE))
        if not data:
            raise Changed(f"{self.item.rel} shrank while it was read")
        self.left -= len(data)
        return data

    def finish(self):
        """Raise Changed unless the whole file was read and nothing moved meanwhile."""
        if self.left > 0 or os.read(self.fd, 1):
            raise Changed(f"{self.item.rel} changed size while it was read")
        now = os.fstat(self.fd)
        if (now.st_size, now.st_mtime_ns, now.st_ctime_ns) != (
            self.opened.st_size,
            self.opened.st_mtime_ns,
            self.opened.st_ctime_ns,
        ):
            raise Changed(f"{self.item.rel} was written to while it was read")

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class LocalFiles:
    """Opens planned files below ``real_root`` (see the module's docstring)."""

    def __init__(self, real_root):
        self.real_root = real_root
        self._root_fd = None
        self._chain = []  # [(folder name, fd)]: the folders of the last file opened

    def open(self, item):
        """A CheckedFile for the Resolved-like ``item`` (real, rel, size, dev, ino, mtime_ns)."""
        rel = os.path.relpath(item.real, self.real_root)
        parts = rel.split(os.sep)
        if rel == os.curdir or parts[0] == os.pardir or os.path.isabs(rel):
            raise Changed(f"{item.rel} is not below the root")
        try:
            folder = self.folder(parts[:-1])
            # Looked at before it is opened, so a FIFO or device put there is never opened.
            if not _same(os.stat(parts[-1], dir_fd=folder, follow_symlinks=False), item):
                raise Changed(f"{item.rel} is not the file the plan saw")
            fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=folder)
        except FileNotFoundError:
            raise Missing(f"{item.rel} is gone") from None
        except OSError as error:
            raise Changed(f"{item.rel} could not be opened as planned: {error.strerror}") from None
        try:
            checked = CheckedFile(fd, item)
            if not _same(checked.opened, item):
                raise Changed(f"{item.rel} is not the file the plan saw")
        except BaseException:
            os.close(fd)
            raise
        return checked

    def read_all(self, item, limit=None):
        """The whole planned file as bytes, or Changed (``limit``: the plan's size holds)."""
        with self.open(item) as f:
            data = b"".join(f.blocks())
            f.finish()
        return data

    def folder(self, names):
        """An fd of the folder ``names`` below the root, each step opened without following
        links; the folders of the previous file are kept open for the next one."""
        if self._root_fd is None:
            self._root_fd = os.open(self.real_root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        common = 0
        while common < len(self._chain) and common < len(names) and self._chain[common][0] == names[common]:
            common += 1
        for _, fd in self._chain[common:]:
            os.close(fd)
        del self._chain[common:]
        for name in names[common:]:
            parent = self._chain[-1][1] if self._chain else self._root_fd
            self._chain.append((name, os.open(name, _DIR_FLAGS, dir_fd=parent)))
        return self._chain[-1][1] if self._chain else self._root_fd

    def close(self):
        for _, fd in self._chain:
            os.close(fd)
        self._chain = []
        if self._root_fd is not None:
            os.close(self._root_fd)
            self._root_fd = None
