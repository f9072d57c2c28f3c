"""Reading zip and tar alike, one member at a time: the archive's kind found by its content,
the survey that judges every member before anything is written, and the copy of one
member block by block, hashed, with its bytes counted against the limits."""

import errno
import gzip
import hashlib
import os
import stat
import struct
import tarfile
import time
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass

from .open_rules import BLOCK, Budget, Cancelled, Names, Refused, hidden, parts_of, shown, size_text, too_many

MAX_HEADER_READ = BLOCK  # one read: a block of data, or a pax header or GNU long name whole
MAX_HEADER_BYTES = 16 * 1024**2  # all of a tar's headers together (each one kept is memory)
ZIP_DIRECTORY_PER_MEMBER = 8192  # a zip's list of members, in bytes per member allowed
MAX_MANIFEST = 64 * 1024**2  # bytes of MANIFEST*.json members held, all of them together
READ_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    tarfile.TarError,
    EOFError,
    zlib.error,
    OSError,
    ValueError,
    NotImplementedError,
    struct.error,
)


@dataclass
class _Member:
    raw: str
    kind: str  # "file", "dir", or what else it is, as the end of a sentence
    size: int  # as declared
    mtime: float
    handle: object


def _not_opened(kind):
    return f"{kind}, and only files and folders are opened"


MODE_KINDS = {
    stat.S_IFLNK: "is a symbolic link",
    stat.S_IFCHR: "is a character device",
    stat.S_IFBLK: "is a block device",
    stat.S_IFIFO: "is a FIFO (named pipe)",
    stat.S_IFSOCK: "is a socket",
}


def _zip_kind(info):
    fmt = stat.S_IFMT(info.external_attr >> 16)
    if fmt and fmt not in (stat.S_IFREG, stat.S_IFDIR):
        # Whatever system made the zip: some unzip tools honour these bits from any.
        return _not_opened(MODE_KINDS.get(fmt, "is neither a file nor a folder"))
    if info.flag_bits & 0x1:
        return "is encrypted, and encrypted archives cannot be opened here"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        # zipfile decompresses bzip2 and LZMA without a bound on the output of one read.
        method = {zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "LZMA"}.get(
            info.compress_type, f"method {info.compress_type}"
        )
        return f"uses {method} compression, which cannot be opened here (deflate can)"
    is_dir = info.orig_filename.replace("\\", "/").endswith("/") or fmt == stat.S_IFDIR
    return "dir" if is_dir else "file"


def _tar_kind(info):
    if info.isreg():
        return "file"
    if info.isdir():
        return "dir"
    for test, kind in (
        (info.issym, "is a symbolic link"),
        (info.islnk, "is a hard link"),
        (info.ischr, "is a character device"),
        (info.isblk, "is a block device"),
        (info.isfifo, "is a FIFO (named pipe)"),
    ):
        if test():
            return _not_opened(kind)
    return _not_opened(f"is of tar type {info.type!r}")


def _tar_block(block):
    """Whether ``block`` is a tar header (its checksum adds up) or the end of an empty tar."""
    if len(block) < 512:
        return False
    if not block.strip(b"\0"):
        return True
    try:
        stored = int(block[148:156].replace(b"\0", b" ").strip() or b"-", 8)
    except ValueError:
        return False
    return stored == sum(block[:148]) + 8 * 32 + sum(block[156:512])


class _Capped:
    """The tar stream as tarfile sees it, refusing a single read beyond MAX_HEADER_READ:
    members' data are read in blocks, so only a huge header asks for more."""

    def __init__(self, f):
        self._f = f

    def read(self, n=-1):
        if n is None or n < 0 or n > MAX_HEADER_READ:
            raise tarfile.ReadError("a header too large to read")
        return self._f.read(n)

    def seek(self, *args):
        return self._f.seek(*args)

    def tell(self):
        return self._f.tell()


class _Archive:
    """One archive file, pass after pass: ``members()`` starts a new pass."""

    def __init__(self, f, name, kind, size):
        self.f, self.name, self.kind, self.size, self._tar = f, name, kind, size, None
        self._zip = zipfile.ZipFile(f) if kind == "zip" else None

    def members(self):
        if self._zip is not None:
            for info in self._zip.infolist():
                try:
                    mtime = time.mktime(info.date_time + (0, 0, -1))
                except (OverflowError, ValueError):
                    mtime = None
                yield _Member(info.orig_filename, _zip_kind(info), info.file_size, mtime, info)
            return
        self.f.seek(0)
        stream = gzip.GzipFile(fileobj=self.f, mode="rb") if self.kind == "tar.gz" else self.f
        self._tar = tarfile.open(fileobj=_Capped(stream), mode="r:")
        if self._tar.firstmember is None and self._tar.offset == 0:
            # Only the end-of-archive block: an empty tar. (Python 3.10's next() would
            # seek to offset -1 here; 3.11 added this same check.)
            return
        headers = 0
        while True:
            info = self._tar.next()
            if info is None:
                return
            # tarfile keeps every header it read, pax ones whole: none is kept here.
            self._tar.members.clear()
            info.pax_headers = {}
            headers += info.offset_data - info.offset
            if headers > MAX_HEADER_BYTES:
                raise Refused(
                    f"{self.name} holds more than {size_text(MAX_HEADER_BYTES)} of member "
                    "headers (names and attributes)"
                )
            yield _Member(info.name, _tar_kind(info), info.size, info.mtime, info)

    def open(self, member):
        if self._zip is not None:
            return self._zip.open(member.handle)
        return self._tar.extractfile(member.handle)


@contextmanager
def reading(name):
    """Errors of reading the archive (a damaged or truncated one): a refusal."""
    try:
        yield
    except READ_ERRORS as error:
        raise Refused(f"{name} is damaged or cut short ({error or type(error).__name__})") from None


def _zip_directory_fits(f, size, limits):
    """Refuse, from the end record alone, a zip whose list of members is too long: zipfile
    reads that whole list into memory before a member can be counted."""
    f.seek(max(0, size - (22 + 65535 + 20)))
    tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return  # zipfile will say the archive is damaged
    count, listing = struct.unpack("<HI", tail[at + 10 : at + 16])
    if (count == 0xFFFF or listing == 0xFFFFFFFF) and at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":
        f.seek(struct.unpack("<Q", tail[at - 12 : at - 4])[0])
        record = f.read(56)
        if record[:4] == b"PK\x06\x06" and len(record) == 56:
            count, listing = struct.unpack("<QQ", record[32:48])
    if count > limits.max_files:
        raise too_many(limits)
    if listing > limits.max_files * ZIP_DIRECTORY_PER_MEMBER + BLOCK:
        raise Refused(
            f"The archive's list of members takes {size_text(listing)}, more than "
            f"{limits.max_files} members (NbextPkg.open_max_files) could need"
        )


def open_archive(f, name, limits):
    """``f`` (a file open for reading) as an _Archive, its kind found by content, not name."""
    size = os.fstat(f.fileno()).st_size
    with reading(name):
        head = f.read(512)
        if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
            _zip_directory_fits(f, size, limits)
            return _Archive(f, name, "zip", size)
        if head[:2] == b"\x1f\x8b":
            f.seek(0)
            try:
                block = gzip.GzipFile(fileobj=f, mode="rb").read(512)
            except READ_ERRORS:
                block = b""
            if not _tar_block(block):
                raise Refused(f"{name} is gzip-compressed but holds no tar archive")
            return _Archive(f, name, "tar.gz", size)
        if _tar_block(head):
            return _Archive(f, name, "tar", size)
    raise Refused(f"{name} is not a zip, tar or tar.gz archive")


def judge(member, names, limits):
    """(parts, None), or (None, why it is left out): the folder itself, a hidden member."""
    parts = parts_of(member.raw)
    if member.kind not in ("file", "dir"):
        raise Refused(f"The archive's member {shown(member.raw)} {member.kind}")
    if not parts:
        if member.kind == "dir":
            return None, None
        raise Refused(f"The archive's member {shown(member.raw)} has no name")
    if hidden(parts) and not limits.allow_hidden:
        return None, "hidden"
    names.add(parts, member.kind, member.raw)
    return parts, None


def each(archive):
    """archive.members(), an error of reading it being a refusal (and no other error)."""
    members = archive.members()
    while True:
        with reading(archive.name):
            member = next(members, None)
        if member is None:
            return
        yield member


def declared(member):
    """The size the archive says; trusted only to refuse early."""
    return member.size


def survey(archive, limits, cancel=None):
    """The first pass: [(member, parts or None)] and the members left out, or a refusal."""
    steps, left_out, names, budget = [], [], Names(), Budget(limits, archive.size)
    for member in each(archive):
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"Opening {archive.name} was cancelled; nothing was left behind.")
        if len(steps) >= limits.max_files:
            raise too_many(limits)
        parts, why = judge(member, names, limits)
        if why is not None:
            left_out.append((member.raw, why))
        if parts is not None and member.kind == "file":
            budget.add(declared(member))
        steps.append((member, parts))
    return steps, left_out


def common_top(all_parts):
    """The one folder every member sits in (our bundles have one), or None."""
    tops = {parts[0] for parts in all_parts}
    if len(tops) != 1 or any(len(parts) == 1 and kind == "file" for parts, kind in all_parts.items()):
        return None
    return tops.pop()


def inside(parts, top):
    return parts[1:] if top is not None and parts[0] == top else parts


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def room(candidates):
    """Whether another manifest may be held: a hostile archive may have thousands."""
    return len(candidates) < 64 and sum(len(data) for data in candidates.values()) < MAX_MANIFEST


def stream(archive, member, budget, name, cancel=None, fd=None, keep=False):
    """(size, sha256, the bytes when ``keep``) of a member, copied to ``fd`` block by block."""
    digest, size, kept = hashlib.sha256(), 0, [] if keep else None
    with reading(name):
        source = archive.open(member)
    with source:
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"Opening {name} was cancelled; nothing was left behind.")
            with reading(name):
                block = source.read(BLOCK)
            if not block:
                break
            size += len(block)
            budget.add(len(block))
            digest.update(block)
            if kept is not None and size <= MAX_MANIFEST:
                kept.append(block)
            if fd is not None:
                write_all(fd, block)
    keep_bytes = b"".join(kept) if kept is not None and size <= MAX_MANIFEST else None
    return size, digest.hexdigest(), keep_bytes


def open_checked(archive_path, expect=None):
    """The archive file, opened as the one it is: its last name not followed if a link (a
    link given on the command line is resolved first, to where it leads), a regular file
    (a FIFO never blocks the opener: it is opened without waiting, then refused), and when
    ``expect`` is (st_dev, st_ino), the very file the caller located. OSError otherwise."""
    real = os.path.realpath(archive_path) if expect is None else archive_path
    fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if expect is not None and (info.st_dev, info.st_ino) != tuple(expect):
            raise OSError(errno.ESTALE, "it was replaced while it was looked at")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
