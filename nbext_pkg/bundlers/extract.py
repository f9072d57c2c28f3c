"""Opening a notebook bundle, or any zip, tar or tar.gz, into a new folder: the way back
from a bundle, for the server's route (on a worker thread) and the command line.

An archive may come from anybody, so it is judged before it can do harm: every member
must be a file or a folder whose name stays inside the new folder and meets no other
name, and the whole must stay within ``Limits``. Nothing is left by a refusal or any
other failure: the work happens in a hidden folder beside the result, which is renamed
into place only when complete and never over anything that exists.

Every name is checked before the first byte is written. A zip's central directory lists
them at once; a tar is read twice, a first pass over its headers and then the copy, so
that a tar.gz is decompressed twice: it costs time, never memory or disk.

Bundles of ours also carry a manifest: each member is hashed while it is copied and
compared with it, and a difference is reported rather than accepted or refused.
"""

import ctypes
import dataclasses
import errno
import fnmatch
import functools
import gzip
import hashlib
import json
import os
import re
import secrets
import socket
import stat
import struct
import sys
import tarfile
import time
import unicodedata
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field

BLOCK = 1024 * 1024
BOMB_FLOOR = 16 * 1024**2  # the ratio is judged only past this many bytes out
MAX_HEADER_READ = BLOCK  # one read: a block of data, or a pax header or GNU long name whole
MAX_HEADER_BYTES = 16 * 1024**2  # all of a tar's headers together (each one kept is memory)
MAX_DEPTH = 64  # folders in one member's name (each level costs the checks memory)
MAX_NAME_BYTES = 4096  # one member's whole name, as Linux allows a path
ZIP_DIRECTORY_PER_MEMBER = 8192  # a zip's list of members, in bytes per member allowed
MAX_MANIFEST = 64 * 1024**2  # bytes of MANIFEST*.json members held, all of them together
MAX_NAMES = 10_000  # foo, foo-1, ... foo-9999
TEMP_PREFIX = ".nbext_pkg-open-"
SUFFIXES = (".tar.gz", ".tgz", ".zip", ".tar")
NOTHING = ", so nothing was opened."
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
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class Limits:
    max_files: int = 10_000
    max_bytes: int = 4 * 1024**3  # uncompressed, all members together
    max_ratio: float = 200.0  # uncompressed bytes per byte of the archive
    allow_hidden: bool = False  # the server's rule for names starting with "."


DEFAULT_LIMITS = Limits()


def limits_from(settings, allow_hidden=False):
    """Limits from an ``NbextPkg`` (config.py), read by name so this module needs no traitlets."""
    return Limits(settings.open_max_files, settings.open_max_bytes, settings.open_max_ratio, allow_hidden)


@dataclass
class Opened:
    folder: str  # absolute path of the new folder
    name: str  # its base name
    files: int
    bytes: int
    notebooks: list  # .ipynb paths relative to the folder, sorted
    left_out: list  # (member, reason), e.g. hidden
    manifest: dict = None  # a summary of our manifest, None when it is not a bundle of ours
    mismatches: list = field(default_factory=list)


class OpenFailed(Exception):
    """Nothing was opened and nothing left behind; the message is a sentence for a person."""


class Refused(OpenFailed):
    """The archive breaks a rule. ``reason`` names the member and the rule."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason

    def __str__(self):
        return self.reason + NOTHING


class Cancelled(OpenFailed):
    """``cancel`` was set while opening."""


def shown(name):
    """A member's name as it can be printed: control characters and undecodable bytes escaped."""
    return "".join(
        c if 32 <= ord(c) != 127 and not 0xD800 <= ord(c) <= 0xDFFF else f"\\x{ord(c) & 0xFF:02x}"
        for c in name
    )


def _size(n):
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


# -- the rules one member's name and kind obey ----------------------------------


def parts_of(raw):
    """The name's components inside the new folder; refused where it could leave it.
    A backslash counts as a separator: Windows tools take it for one."""

    def bad(rule):
        return Refused(f"The archive's member {shown(raw)} {rule}")

    if "\x00" in raw:
        raise bad("has a NUL byte in its name")
    name = raw.replace("\\", "/")
    if name.startswith("/"):
        raise bad("has an absolute path")
    if re.match(r"[A-Za-z]:", name):
        raise bad("starts with a drive letter")
    if len(os.fsencode(name)) > MAX_NAME_BYTES:
        raise bad(f"has a name longer than disks allow ({MAX_NAME_BYTES} bytes)")
    parts = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise bad("climbs out of the folder it would be opened into")
            parts.pop()
        elif len(os.fsencode(part)) > 255:
            raise bad("has a name longer than disks allow (255 bytes)")
        else:
            parts.append(part)
            if len(parts) > MAX_DEPTH:
                raise bad(f"lies more than {MAX_DEPTH} folders deep")
    return tuple(parts)


def hidden(parts):
    return any(part.startswith(".") for part in parts)


class _Names:
    """The names the members take, by the key two names share on a disk that ignores case
    or Unicode form (macOS, Windows), where one member would overwrite another."""

    def __init__(self):
        self._taken = {}

    def add(self, parts, kind, raw):
        for depth in range(1, len(parts)):
            self._claim(parts[:depth], "dir", raw)
        self._claim(parts, kind, raw)

    def _claim(self, parts, kind, raw):
        spelled = "/".join(parts)
        key = unicodedata.normalize("NFC", spelled).casefold()
        seen = self._taken.get(key)
        if seen is None:
            self._taken[key] = (spelled, kind, raw)
            return
        if kind == seen[1] == "dir" and spelled == seen[0]:
            return
        pair = f"The archive's members {shown(seen[2])} and {shown(raw)}"
        if kind != seen[1]:
            raise Refused(f"{pair} need {shown(spelled)} to be both a file and a folder")
        if spelled == seen[0]:
            raise Refused(f"The archive holds the member {shown(raw)} twice")
        raise Refused(
            f"{pair} have names that differ only in case or Unicode form, which many "
            "disks take for the same name"
        )


class _Budget:
    """Bytes out so far, against the limits; fed declared sizes first, then real ones."""

    def __init__(self, limits, archive_size):
        self.limits, self.archive_size, self.total = limits, max(archive_size, 1), 0

    def add(self, n):
        self.total += n
        if self.total > self.limits.max_bytes:
            raise Refused(
                f"The archive holds more than {_size(self.limits.max_bytes)} once opened, "
                "more than NbextPkg.open_max_bytes allows"
            )
        if self.total > BOMB_FLOOR and self.total > self.limits.max_ratio * self.archive_size:
            raise Refused(
                f"The archive grows more than {self.limits.max_ratio:g} times its size when "
                "opened (a compression bomb?), more than NbextPkg.open_max_ratio allows"
            )


def _too_many(limits):
    return Refused(f"The archive holds more members than NbextPkg.open_max_files allows ({limits.max_files})")


# -- reading zip and tar alike ----------------------------------------------------


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
                    f"{self.name} holds more than {_size(MAX_HEADER_BYTES)} of member "
                    "headers (names and attributes)"
                )
            yield _Member(info.name, _tar_kind(info), info.size, info.mtime, info)

    def open(self, member):
        if self._zip is not None:
            return self._zip.open(member.handle)
        return self._tar.extractfile(member.handle)


@contextmanager
def _reading(name):
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
        raise _too_many(limits)
    if listing > limits.max_files * ZIP_DIRECTORY_PER_MEMBER + BLOCK:
        raise Refused(
            f"The archive's list of members takes {_size(listing)}, more than "
            f"{limits.max_files} members (NbextPkg.open_max_files) could need"
        )


def open_archive(f, name, limits):
    """``f`` (a file open for reading) as an _Archive, its kind found by content, not name."""
    size = os.fstat(f.fileno()).st_size
    with _reading(name):
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


# -- judging the members before anything is written ---------------------------------


def _judge(member, names, limits):
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


def _each(archive):
    """archive.members(), an error of reading it being a refusal (and no other error)."""
    members = archive.members()
    while True:
        with _reading(archive.name):
            member = next(members, None)
        if member is None:
            return
        yield member


def _declared(member):
    """The size the archive says; trusted only to refuse early."""
    return member.size


def survey(archive, limits, cancel=None):
    """The first pass: [(member, parts or None)] and the members left out, or a refusal."""
    steps, left_out, names, budget = [], [], _Names(), _Budget(limits, archive.size)
    for member in _each(archive):
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"Opening {archive.name} was cancelled; nothing was left behind.")
        if len(steps) >= limits.max_files:
            raise _too_many(limits)
        parts, why = _judge(member, names, limits)
        if why is not None:
            left_out.append((member.raw, why))
        if parts is not None and member.kind == "file":
            budget.add(_declared(member))
        steps.append((member, parts))
    return steps, left_out


def common_top(all_parts):
    """The one folder every member sits in (our bundles have one), or None."""
    tops = {parts[0] for parts in all_parts}
    if len(tops) != 1 or any(len(parts) == 1 and kind == "file" for parts, kind in all_parts.items()):
        return None
    return tops.pop()


def _inside(parts, top):
    return parts[1:] if top is not None and parts[0] == top else parts


# -- the manifest -----------------------------------------------------------------


def _manifest_name(rel):
    return "/" not in rel and fnmatch.fnmatchcase(rel, "MANIFEST*.json")


def find_manifest(candidates):
    """(name, document) of our manifest among top-level MANIFEST*.json contents, or None.
    A user's own MANIFEST.json moves ours aside (plan.py), and may be one of ours from an
    earlier bundle: the bundle's manifest is the one no other lists among its files."""
    ours = {}
    for name, data in candidates.items():
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):  # not JSON we can read
            continue
        generator = doc.get("generator") if isinstance(doc, dict) else None
        if isinstance(generator, dict) and generator.get("name") == "nbext_pkg":
            ours[name] = doc
    listed = {
        entry["path"]
        for doc in ours.values()
        if isinstance(doc.get("files"), list)
        for entry in doc["files"]
        if isinstance(entry, dict) and isinstance(entry.get("path"), str)
    }
    unlisted = sorted(set(ours) - listed) or sorted(ours)
    if not unlisted:
        return None
    named = [
        n
        for n in unlisted
        if isinstance(ours[n].get("generated"), dict) and ours[n]["generated"].get("manifest") == n
    ]
    best = named or (["MANIFEST.json"] if "MANIFEST.json" in unlisted else unlisted)
    return best[0], ours[best[0]]


def compare(name, doc, hashed, excused=()):
    """Lines for people: every difference between the members (rel -> (size, sha256)) and
    the manifest. ``excused``: members left out on purpose, not missing."""
    problems, listed = [], set()
    files = doc.get("files")
    for entry in files if isinstance(files, list) else []:
        path = entry.get("path") if isinstance(entry, dict) else None
        if not (
            isinstance(path, str)
            and isinstance(entry.get("size"), int)
            and isinstance(entry.get("sha256"), str)
        ):
            problems.append(
                f"{name} holds an entry that is not a path, a size and a SHA-256: "
                f"{shown(json.dumps(entry, ensure_ascii=False))[:120]}."
            )
            continue
        listed.add(path)
        if path not in hashed:
            if path not in excused:
                problems.append(f"{shown(path)} is listed in {name} but missing from the archive.")
        elif hashed[path][0] != entry["size"]:
            problems.append(f"{shown(path)} has {hashed[path][0]} bytes where {name} lists {entry['size']}.")
        elif hashed[path][1] != entry["sha256"].lower():
            problems.append(f"{shown(path)} is not what {name} lists: its SHA-256 differs.")
    if not isinstance(files, list):
        problems.append(f"{name} has no list of files.")
    generated = doc.get("generated")
    allowed = listed | {
        v for v in (generated.values() if isinstance(generated, dict) else ()) if isinstance(v, str)
    }
    problems += [
        f"{shown(rel)} is in the archive but not listed in {name}."
        for rel in sorted(hashed)
        if rel not in allowed
    ]
    return problems


def summary(name, doc):
    generator, files = doc.get("generator") or {}, doc.get("files")
    return {
        "path": name,
        "version": generator.get("version"),
        "created": doc.get("created"),
        "notebook": doc.get("notebook"),
        "files": len(files) if isinstance(files, list) else 0,
        "skipped": doc.get("skipped") if isinstance(doc.get("skipped"), list) else [],
    }


# -- streaming a member -------------------------------------------------------------


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _room(candidates):
    """Whether another manifest may be held: a hostile archive may have thousands."""
    return len(candidates) < 64 and sum(len(data) for data in candidates.values()) < MAX_MANIFEST


def stream(archive, member, budget, name, cancel=None, fd=None, keep=False):
    """(size, sha256, the bytes when ``keep``) of a member, copied to ``fd`` block by block."""
    digest, size, kept = hashlib.sha256(), 0, [] if keep else None
    with _reading(name):
        source = archive.open(member)
    with source:
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"Opening {name} was cancelled; nothing was left behind.")
            with _reading(name):
                block = source.read(BLOCK)
            if not block:
                break
            size += len(block)
            budget.add(len(block))
            digest.update(block)
            if kept is not None and size <= MAX_MANIFEST:
                kept.append(block)
            if fd is not None:
                _write_all(fd, block)
    keep_bytes = b"".join(kept) if kept is not None and size <= MAX_MANIFEST else None
    return size, digest.hexdigest(), keep_bytes


# -- verify ---------------------------------------------------------------------------


@dataclass
class Audit:
    problems: list
    members: int


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


def verify(archive_path, limits=DEFAULT_LIMITS):
    """Problems of a bundle, without writing anything: [] when it is a good bundle of ours."""
    return audit(archive_path, limits).problems


def audit(archive_path, limits=DEFAULT_LIMITS):
    """verify(), and how many members were checked."""
    name = os.path.basename(archive_path)
    problems, hashed, candidates, parts_kinds, count = [], {}, {}, {}, 0
    everything = dataclasses.replace(limits, allow_hidden=True)  # a check leaves nothing out
    try:
        with open_checked(archive_path) as f:
            archive = open_archive(f, name, limits)
            names, budget = _Names(), _Budget(limits, archive.size)
            for member in _each(archive):
                count += 1
                if count > limits.max_files:
                    raise _too_many(limits)
                try:
                    parts, _ = _judge(member, names, everything)
                except Refused as refused:
                    problems.append(refused.reason + ".")
                    continue
                if parts is None:
                    continue
                parts_kinds[parts] = member.kind
                if member.kind == "file":
                    keep = len(parts) <= 2 and _manifest_name(parts[-1]) and _room(candidates)
                    size, sha, data = stream(archive, member, budget, name, keep=keep)
                    hashed[parts] = (size, sha)
                    if data is not None:
                        candidates[parts] = data
    except OSError as error:
        return Audit(problems + [f"{name} could not be read ({error.strerror or error})."], count)
    except Refused as refused:
        return Audit(problems + [refused.reason + "."], count)
    top = common_top(parts_kinds) if parts_kinds else None
    rel = {parts: "/".join(_inside(parts, top)) for parts in parts_kinds}
    found = find_manifest({rel[p]: data for p, data in candidates.items() if _manifest_name(rel[p])})
    if found is None:
        problems.append(
            f"{name} holds no manifest made by nbext_pkg (MANIFEST.json), so there is "
            "nothing to check it against."
        )
    else:
        problems += compare(*found, {rel[p]: v for p, v in hashed.items()})
    return Audit(problems, count)


# -- extract --------------------------------------------------------------------------


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


def _plain(name):
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


def _make_temp(parent):
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


def _taken(parent, name):
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
        raise _taken(parent, base)
    raise Refused(f"Every name from {base} to {base}-{MAX_NAMES - 1} is taken in {parent}")


def _place(temp, parent, base, exact):
    for _ in range(MAX_NAMES):
        name = free_name(parent, base, exact)
        try:
            rename_noreplace(temp, os.path.join(parent, name))
            return name
        except FileExistsError:
            if exact:
                raise _taken(parent, base) from None
    raise Refused(f"No free name for {base} could be taken in {parent}")


class _Folder:
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


def _fill(archive, steps, temp, limits, name, cancel):
    """The second pass: copy what the survey let through; (rel -> (size, sha256), manifest
    candidates, bytes)."""
    top = common_top({parts: m.kind for m, parts in steps if parts is not None})
    budget, hashed, candidates = _Budget(limits, archive.size), {}, {}
    folder = _Folder(temp)
    try:
        members = _each(archive)
        for planned, parts in steps:
            member = next(members, None)
            if member is None or (member.raw, member.kind, member.size) != (
                planned.raw,
                planned.kind,
                planned.size,
            ):
                raise Refused(f"{name} changed while it was being opened")
            rel = _inside(parts, top) if parts is not None else ()
            if not rel:
                continue
            if member.kind == "dir":
                os.close(folder.folder(rel))
                continue
            fd = folder.create(rel)
            try:
                size, sha, data = stream(
                    archive,
                    member,
                    budget,
                    name,
                    cancel,
                    fd,
                    keep=_manifest_name("/".join(rel)) and _room(candidates),
                )
                if member.mtime is not None:
                    try:
                        os.utime(fd, (member.mtime, member.mtime))
                    except (OSError, OverflowError, ValueError):
                        pass  # a date no disk can hold: the file is what matters
            finally:
                os.close(fd)
            hashed["/".join(rel)] = (size, sha)
            if data is not None:
                candidates["/".join(rel)] = data
    finally:
        folder.close()
    return top, hashed, candidates, budget.total


class DiskFull(OpenFailed):
    """No room (or quota) left for what the archive holds."""


class NotWritable(OpenFailed):
    """The folder the archive would open into cannot be written to."""


def _disk_failure(error, name, parent):
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFull(
            f"{name} could not be opened into {parent} because the disk is full "
            "(or the quota used up); nothing was left behind."
        )
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return NotWritable(
            f"{name} could not be opened into {parent}: that folder cannot be written "
            "to; nothing was left behind."
        )
    return OpenFailed(
        f"{name} could not be opened into {parent} ({error.strerror or error}); nothing was left behind."
    )


def extract(archive_path, parent, name=None, limits=DEFAULT_LIMITS, cancel=None, exact=False, expect=None):
    """Open the archive into a new folder of ``parent`` named after it (or ``name``; the next
    free name when taken, a refusal with ``exact``). Raises Refused, Cancelled or OpenFailed,
    and leaves nothing behind when it does. ``expect``: see open_checked."""
    shown_name = os.path.basename(archive_path)
    parent = os.path.abspath(parent)
    base = _plain(name) if name is not None else folder_name(archive_path)
    try:
        f = open_checked(archive_path, expect)
    except OSError as error:
        raise OpenFailed(
            f"{shown_name} could not be read ({error.strerror}), so nothing was opened."
        ) from None
    with f:
        archive = open_archive(f, shown_name, limits)
        steps, left_out = survey(archive, limits, cancel)
        if exact and os.path.lexists(os.path.join(parent, base)):
            raise _taken(parent, base)
        sweep(parent)
        try:
            temp = _make_temp(parent)
        except OSError as error:
            raise _disk_failure(error, shown_name, parent) from None
        try:
            top, hashed, candidates, total = _fill(archive, steps, temp, limits, shown_name, cancel)
            found = find_manifest(candidates)
            mismatches = []
            if found is not None:
                excused = {"/".join(_inside(parts_of(raw), top)) for raw, _ in left_out}
                mismatches = compare(*found, hashed, excused)
            placed = _place(temp, parent, base, exact)
        except BaseException as error:
            try:
                remove_tree(temp)
            except OSError:
                pass  # left for the next sweep; the error that stopped the open is the one to tell
            if isinstance(error, OSError):
                raise _disk_failure(error, shown_name, parent) from None
            raise
    return Opened(
        folder=os.path.join(parent, placed),
        name=placed,
        files=len(hashed),
        bytes=total,
        notebooks=sorted(rel for rel in hashed if rel.endswith(".ipynb")),
        left_out=left_out,
        manifest=summary(*found) if found is not None else None,
        mismatches=mismatches,
    )
