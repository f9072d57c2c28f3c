"""The folders an open works in and ends in: a hidden temporary folder beside the result,
swept when a dead run left it, removed without recursion or following a link, and renamed
into place under a free name, never over anything that exists."""

import ctypes
import errno
import functools
import os
import re
import secrets
import socket
import sys

from .open_rules import Refused, shown

MAX_NAMES = 10_000  # foo, foo-1, ... foo-9999
TEMP_PREFIX = ".nbext_pkg-open-"
SUFFIXES = (".tar.gz", ".tgz", ".zip", ".tar")
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def folder_name(archive_path):
    """foo.zip, foo.tar, foo.tar.gz, foo.tgz -> foo; leading dots dropped (a hidden folder
    would not show in the tree)."""
    base = os.path.basename(archive_path)
    for suffix in SUFFIXES:
        if base.lower().endswith(suffix):
            base = base[: -len(suffix)]
            break
    else:
        base = os.path.splitext(base)[0]
    return base.lstrip(".") or "archive"


def plain(name):
    if not name or name in (".", "..") or any(c in name for c in "/\\\x00") or len(os.fsencode(name)) > 255:
        raise Refused(f"{shown(name)!r} cannot be a folder's name (one name, without / or \\)")
    return name


def _host():
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "host"


TEMP = re.compile(re.escape(TEMP_PREFIX) + r"([A-Za-z0-9._]+)-(\d+)-[0-9a-f]{16}")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True  # another user's, or a number no process has: leave it
    return True


def sweep(parent):
    """Remove the temporary folders dead runs of this machine left in ``parent`` (a crash,
    a kill -9). The host is in the name: another machine's pids mean nothing here."""
    try:
        entries = os.listdir(parent)
    except OSError:
        return
    for entry in entries:
        match = TEMP.fullmatch(entry)
        if match and match[1] == _host() and 0 < int(match[2]) != os.getpid() and not alive(int(match[2])):
            try:
                remove_tree(os.path.join(parent, entry))
            except OSError:
                pass  # another run's leftover that cannot go: not this open's failure


def remove_tree(top):
    """Remove the folder ``top`` and all below it, however deep: without recursion (Python's
    rmtree recurses once per level), through folder descriptors (no path grows past what the
    system allows) and without following a link."""
    parent_fd = os.open(os.path.dirname(os.path.abspath(top)), DIR_FLAGS)
    stack = []  # [(fd of a folder, its name, fd of its parent)]
    try:
        try:
            fd = os.open(os.path.basename(top), DIR_FLAGS, dir_fd=parent_fd)
        except FileNotFoundError:
            return
        stack.append((fd, os.path.basename(top), parent_fd))
        while stack:
            fd, name, parent = stack[-1]
            child = None
            with os.scandir(fd) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        child = entry.name
                        break
                    try:
                        os.unlink(entry.name, dir_fd=fd)
                    except FileNotFoundError:
                        pass
            if child is not None:
                stack.append((os.open(child, DIR_FLAGS, dir_fd=fd), child, fd))
                continue
            stack.pop()
            os.close(fd)
            os.rmdir(name, dir_fd=parent)
    finally:
        for fd, _, _ in stack:
            os.close(fd)
        os.close(parent_fd)


def make_temp(parent):
    while True:
        path = os.path.join(parent, f"{TEMP_PREFIX}{_host()}-{os.getpid()}-{secrets.token_hex(8)}")
        try:
            os.mkdir(path, 0o777)
            return path
        except FileExistsError:
            continue


@functools.lru_cache(maxsize=1)
def _renameat2():
    """libc's renameat2, where there is one (Linux, glibc 2.28 and later)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


AT_FDCWD, RENAME_NOREPLACE = -100, 1


def rename_noreplace(source, target):
    """Rename, or FileExistsError when ``target`` exists: os.rename would replace an empty
    folder of that name. Without renameat2, a check just before (a small window)."""
    function = _renameat2()
    if function is not None:
        if function(AT_FDCWD, os.fsencode(source), AT_FDCWD, os.fsencode(target), RENAME_NOREPLACE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(code, os.strerror(code), target)
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), target)
    os.rename(source, target)


def taken(parent, name):
    return Refused(
        f"{os.path.join(parent, name)} already exists, and an archive is never opened into an existing folder"
    )


def free_name(parent, base, exact=False):
    """``base``, else base-1, base-2, ...: the first name nothing in ``parent`` has."""
    for n in range(1 if exact else MAX_NAMES):
        name = f"{base}-{n}" if n else base
        if not os.path.lexists(os.path.join(parent, name)):
            return name
    if exact:
        raise taken(parent, base)
    raise Refused(f"Every name from {base} to {base}-{MAX_NAMES - 1} is taken in {parent}")


def place(temp, parent, base, exact):
    for _ in range(MAX_NAMES):
        name = free_name(parent, base, exact)
        try:
            rename_noreplace(temp, os.path.join(parent, name))
            return name
        except FileExistsError:
            if exact:
                raise taken(parent, base) from None
    raise Refused(f"No free name for {base} could be taken in {parent}")


class Folder:
    """The temporary folder, entered through directory descriptors that never follow a
    link: every folder on a member's way is one this run made."""

    def __init__(self, path):
        self.fd = os.open(path, DIR_FLAGS)

    def folder(self, parts):
        fd = os.dup(self.fd)
        try:
            for part in parts:
                try:
                    os.mkdir(part, 0o777, dir_fd=fd)
                except FileExistsError:
                    pass
                inner = os.open(part, DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = inner
        except BaseException:
            os.close(fd)
            raise
        return fd

    def create(self, parts):
        fd = self.folder(parts[:-1])
        try:
            return os.open(parts[-1], FILE_FLAGS, 0o666, dir_fd=fd)  # never the archive's modes
        finally:
            os.close(fd)

    def close(self):
        os.close(self.fd)
