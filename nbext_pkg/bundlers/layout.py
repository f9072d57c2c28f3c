"""The byte layout of a zip or tar bundle whose every member's size is known before the
first byte, so that the archive's length, and the offset of each of its parts, are too.

A layout is a list of :class:`Part` s, each with its offset and length. Their bytes come
from three places: fixed bytes (headers, end records) made here from names, sizes and
times alone; a member's data (the writer's business); and parts that need what is learnt
while the data goes out, each member's CRC-32 (a zip's data descriptors and central
directory) and, for the manifest, every sha256. Those too are made here, at a length the
layout fixed in advance.

So a member's local header never holds its CRC (bit 3: a data descriptor follows the
data, as zipfile itself writes to a stream): the same plan gives the same bytes whether
or not the CRCs were known when it started, and a download can resume at any offset.

A zip member the writer has to leave out after the layout was fixed (its file changed)
keeps its place, filled with zeros, and is left out of the central directory, which is
all an extractor reads; the central directory is then shorter by that member's entry,
and the end record's comment makes up the difference (65,535 bytes of it at most; then
padding extra fields in the entries that stay).

Pure: the standard library only, no I/O.
"""

import struct
import tarfile
import time
from dataclasses import dataclass

ZIP64_LIMIT = (1 << 31) - 1  # zipfile's own, conservative limit: past it, zip64 fields
_LOCAL = struct.Struct("<4sHHHHHLLLHH")
_CENTRAL = struct.Struct("<4sBBHHHHHLLLHHHHHLL")
_END = struct.Struct("<4sHHHHLLH")
_END64 = struct.Struct("<4sQHHLLQQQQ")
_LOCATOR = struct.Struct("<4sLQL")
MAX_COMMENT = 0xFFFF
_UNIX, _FILE_MODE = 3, 0o100644
TAR_RECORD = 10240


@dataclass
class Member:
    """One member as the layout needs it: its full name in the archive, its size, the
    bytes it takes in the archive (``stored`` is ``csize == size``), its time, and the
    writer's own ``source`` (opaque here)."""

    name: str
    size: int
    csize: int
    deflated: bool
    mtime: float
    source: object = None
    offset: int = 0  # of its first header

    @property
    def zip64(self):
        return self.size > ZIP64_LIMIT or self.csize > ZIP64_LIMIT


@dataclass
class Part:
    """``length`` bytes at ``offset``: ``kind`` is "fixed" (``data`` holds them), "data"
    (member ``index``'s data), "descriptor" (its data descriptor), "tail" (a zip's
    central directory and end records)."""

    kind: str
    offset: int
    length: int
    index: int = -1
    data: bytes = b""


def zip_date_time(mtime):
    """(year, month, day, hour, minute, second) in local time, as a zip can hold it: 1980
    to 2107 only, the nearest end for a file from before or after."""
    first, last = (1980, 1, 1, 0, 0, 0), (2107, 12, 31, 23, 59, 58)
    try:
        return min(max(time.localtime(mtime)[:6], first), last)
    except (OverflowError, OSError, ValueError):
        return last if mtime > 0 else first


def dos_time(mtime):
    """(time, date) as a zip stores them (see zip_date_time)."""
    year, month, day, hour, minute, second = zip_date_time(mtime)
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


def _name(member):
    try:
        return member.name.encode("ascii"), 0
    except UnicodeEncodeError:
        return member.name.encode("utf-8", "surrogateescape"), 0x800


def local_header(member):
    name, utf8 = _name(member)
    extra, size, csize = b"", member.size, member.csize
    if member.zip64:
        extra = struct.pack("<HHQQ", 1, 16, size, csize)
        size = csize = 0xFFFFFFFF
    when, date = dos_time(member.mtime)
    return (
        _LOCAL.pack(
            b"PK\x03\x04",
            45 if member.zip64 else 20,
            0x08 | utf8,
            8 if member.deflated else 0,
            when,
            date,
            0,
            csize,
            size,
            len(name),
            len(extra),
        )
        + name
        + extra
    )


def descriptor_length(member):
    return 24 if member.zip64 else 16


def descriptor(member, crc):
    if member.zip64:
        return struct.pack("<4sLQQ", b"PK\x07\x08", crc, member.csize, member.size)
    return struct.pack("<4sLLL", b"PK\x07\x08", crc, member.csize, member.size)


PADDING_ID = 0x4E58  # an extra field no reader knows, which every reader skips


def central_entry(member, crc, padding=0):
    """The member's central directory entry, ``padding`` bytes longer (0, or at least 4:
    an extra field of its own) where it stands in for entries left out."""
    name, utf8 = _name(member)
    fields, size, csize, offset = [], member.size, member.csize, member.offset
    if member.zip64:
        fields += [size, csize]
        size = csize = 0xFFFFFFFF
    if offset > ZIP64_LIMIT:
        fields.append(offset)
        offset = 0xFFFFFFFF
    extra = struct.pack(f"<HH{len(fields)}Q", 1, 8 * len(fields), *fields) if fields else b""
    if padding:
        extra += struct.pack("<HH", PADDING_ID, padding - 4) + bytes(padding - 4)
    version = 45 if fields else 20
    when, date = dos_time(member.mtime)
    return (
        _CENTRAL.pack(
            b"PK\x01\x02",
            version,
            _UNIX,
            version,
            0x08 | utf8,
            8 if member.deflated else 0,
            when,
            date,
            crc,
            csize,
            size,
            len(name),
            len(extra),
            0,
            0,
            0,
            _FILE_MODE << 16,
            offset,
        )
        + name
        + extra
    )


def _lay_out(members, header_of, length_of, trailer_of):
    """Each member's header, data and trailer (a Part or None) in a row, offsets set:
    (the parts, where the next byte goes)."""
    parts, at = [], 0
    for index, member in enumerate(members):
        member.offset = at
        header = header_of(member)
        parts.append(Part("fixed", at, len(header), index, header))
        at += len(header)
        parts.append(Part("data", at, length_of(member), index))
        at += length_of(member)
        trailer = trailer_of(index, member, at)
        if trailer is not None:
            parts.append(trailer)
            at += trailer.length
    return parts, at


class ZipLayout:
    """The parts of a zip of ``members`` (in this order), and its length."""

    def __init__(self, members):
        self.members = members
        self.parts, at = _lay_out(members, local_header, lambda m: m.csize, self._descriptor)
        self.central_offset = at
        self.central_length = sum(len(central_entry(m, 0)) for m in members)
        self.zip64_end = (
            len(members) >= 0xFFFF or self.central_length > ZIP64_LIMIT or self.central_offset > ZIP64_LIMIT
        )
        tail = self.central_length + (_END64.size + _LOCATOR.size if self.zip64_end else 0) + _END.size
        self.parts.append(Part("tail", at, tail))
        self.length = at + tail

    @staticmethod
    def _descriptor(index, member, at):
        return Part("descriptor", at, descriptor_length(member), index)

    def tail(self, crcs, left_out=()):
        """The central directory and end records: ``crcs`` by member index, ``left_out``
        the indexes not to list. The entries left out leave room that the end record's
        comment fills, then (past 65,535 bytes) padding extra fields in the entries kept,
        so the tail keeps its planned length; ValueError when even that is not enough."""
        keep = [i for i in range(len(self.members)) if i not in left_out]
        entries = {i: central_entry(self.members[i], crcs[i]) for i in keep}
        missing = self.central_length - sum(len(e) for e in entries.values())
        comment_length = missing if missing <= MAX_COMMENT else MAX_COMMENT - 4
        rest = missing - comment_length
        for i in reversed(keep):
            if rest <= 0:
                break
            extra_len = struct.unpack("<H", entries[i][30:32])[0]
            chunk = min(rest, 0xFFFF - extra_len)
            if 0 < rest - chunk < 4:
                chunk -= 4
            if chunk >= 4:
                entries[i] = central_entry(self.members[i], crcs[i], chunk)
                rest -= chunk
        if rest:
            raise ValueError(
                f"{len(left_out)} members left out need more room than the zip's "
                "central directory can give back"
            )
        central = b"".join(entries[i] for i in keep)
        comment = b"nbext_pkg: members left out, see MANIFEST.json"[:comment_length].ljust(
            comment_length, b" "
        )
        count, offset, length = len(keep), self.central_offset, len(central)
        out = [central]
        if self.zip64_end:
            out.append(
                _END64.pack(
                    b"PK\x06\x06", _END64.size - 12, (_UNIX << 8) | 45, 45, 0, 0, count, count, length, offset
                )
            )
            out.append(_LOCATOR.pack(b"PK\x06\x07", 0, offset + length, 1))
            out.append(_END.pack(b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, comment_length))
        else:
            out.append(_END.pack(b"PK\x05\x06", 0, 0, count, count, length, offset, comment_length))
        return b"".join(out) + comment


def tar_info(name, size, mtime):
    """A regular file's tar header fields, as every bundle writes them."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(mtime), 0o644
    info.uname = info.gname = ""
    return info


def tar_header(member):
    return tar_info(member.name, member.size, member.mtime).tobuf(
        tarfile.PAX_FORMAT, "utf-8", "surrogateescape"
    )


class TarLayout:
    """The parts of an uncompressed (POSIX pax) tar of ``members``: each one's header,
    its data, zeros to the next 512-byte block; then the end blocks, to a whole record."""

    def __init__(self, members):
        self.members = members
        self.parts, at = _lay_out(members, tar_header, lambda m: m.size, self._padding)
        end = 2 * tarfile.BLOCKSIZE
        end += -(at + end) % TAR_RECORD
        self.parts.append(Part("fixed", at, end, -1, bytes(end)))
        self.length = at + end

    @staticmethod
    def _padding(index, member, at):
        padding = -member.size % tarfile.BLOCKSIZE
        return Part("fixed", at, padding, index, bytes(padding)) if padding else None


def parts_from(parts, start):
    """The parts from the one holding byte ``start`` on, each with how far into it
    ``start`` falls (0 for all but the first)."""
    for part in parts:
        if part.offset + part.length <= start and part.length:
            continue
        if part.length == 0 and part.offset < start:
            continue
        yield part, max(0, start - part.offset)
