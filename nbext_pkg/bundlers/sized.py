"""A bundle whose every byte the plan fixes: its length before the first byte, a strong
ETag for it, and any range of it written without making what comes before.

What the plan fixes:
- the members and their order: the notebook, its files (sorted), the HTML copy,
  requirements.txt, MANIFEST.json;
- every member's size in the archive. Files are stored as they are, except small ones
  that deflate well (``DEFLATE_MIN`` to ``DEFLATE_MAX`` bytes each, ``DEFLATE_TOTAL`` in
  all, in plan order), which are deflated while the plan is made: their deflated size is
  then known, and kept (with their CRC and sha256) in the digest cache, and their bytes
  in a memo, so the next plan of the same files need not deflate them again (such a file
  goes out as the plan read it). The generated members are made during the plan too, so
  their sizes are known, and deflated on the same terms;
- every time stamp: the files' own mtimes, and for the generated members and the
  manifest's ``created`` the newest of them (so the same inputs give the same bytes);
- the manifest's length: listed as if every file arrives, padded with spaces when one
  does not.

The CRC-32 and sha256 of a stored file are learnt while it goes out (or taken from the
digest cache, keyed by what ``fstat`` says of the open file: then the file is not hashed
again). A range that starts past a member still needs them, for the data descriptors,
the central directory and the manifest: the cache has them, or the file is read and
hashed without being sent.

A file that is not the one the plan saw when its turn comes (or that changes while it is
read) is left out, as in a streamed bundle: in a zip its place is filled with zeros and
it is left out of the central directory (``layout``), and every later download of the
same ETag leaves it out too (``digests.LEFT_OUT``), so that a resumed download joins the
same bytes; in a tar, whose header has already announced it, the download is ended
instead (``Unsendable``), and a new request gets a new bundle.
"""

import hashlib
import json
import os
import zlib
from dataclasses import dataclass

from .._version import __version__
from . import digests, layout, manifest
from .archive import COMPRESSED_SUFFIXES, MIN_SAVING
from .sources import Changed, LocalFiles

DEFLATE_MIN = 128  # smaller files are stored: deflating them saves a few bytes for an open
DEFLATE_MAX = 1024 * 1024  # a file larger than this is stored
DEFLATE_TOTAL = 16 * 1024 * 1024  # files deflated during one plan, in all
GENERATED_DEFLATE_MAX = 8 * 1024 * 1024  # the notebook, the HTML copy, requirements.txt
# zlib level 1: a fifth of level 6's time for about 8% more bytes of text; the plan deflates
# before the first byte, so its time is the first byte's (16 MiB: 0.25 s instead of 1.1 s).
LEVEL = 1
READ = 1024 * 1024
SIZED_FORMATS = ("zip", "tar")


class Unsendable(Exception):
    """A planned member can no longer be sent as the layout announced it (a tar's file
    changed): the download must end without completing."""


def deflate(data):
    """The raw deflate stream of ``data`` at the bundle's level: the same bytes every time."""
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def worth(name, data, compressed):
    return os.path.splitext(name)[1].lower() not in COMPRESSED_SUFFIXES and len(compressed) < len(data) * (
        1 - MIN_SAVING
    )


class Blob:
    """A generated member's bytes: in memory, or in a spool (a file object) for large ones.
    One writer reads it at a time."""

    def __init__(self, data):
        if isinstance(data, (bytes, bytearray)):
            self.data, self.file, self.size = bytes(data), None, len(data)
        else:
            data.seek(0, os.SEEK_END)
            self.data, self.file, self.size = None, data, data.tell()

    def pieces(self, skip=0, take=None):
        take = self.size - skip if take is None else take
        if self.data is not None:
            yield self.data[skip : skip + take]
            return
        self.file.seek(skip)
        while take > 0:
            block = self.file.read(min(READ, take))
            if not block:
                raise Unsendable("a generated member's spool came back short")
            take -= len(block)
            yield block

    def whole(self):
        return self.data if self.data is not None else b"".join(self.pieces())

    def digest(self):
        return _digest_of_blocks(self.pieces())

    def close(self):
        if self.file is not None:
            self.file.close()


@dataclass
class Source:
    """Where a member's bytes come from: ``member`` (a plan.Member, read from disk) or
    ``data`` (generated); ``compressed`` its deflated bytes where they are kept;
    ``digest`` what is known of its bytes; ``entry`` its manifest entry (None: the
    manifest itself)."""

    member: object = None
    data: Blob = None
    compressed: bytes = None
    digest: digests.Digest = None
    entry: dict = None
    key: tuple = None  # a deflated file's identity, as the plan saw it


def _digest_of(data):
    return digests.Digest(zlib.crc32(data), hashlib.sha256(data).hexdigest())


def _digest_of_blocks(blocks):
    crc, sha = 0, hashlib.sha256()
    for block in blocks:
        crc = zlib.crc32(block, crc)
        sha.update(block)
    return digests.Digest(crc, sha.hexdigest())


class SizedArchive:
    """Build with :func:`build`; ``length``, ``etag``, ``write(sink, start, end)``."""

    def __init__(self, fmt, real_root, members, sources, manifest_doc, cache, compressed):
        self.format, self.real_root, self.cache, self.compressed = fmt, real_root, cache, compressed
        self.members, self.sources = members, sources
        self.manifest_doc = manifest_doc  # the manifest with its files filled in at the end
        self.layout = (layout.ZipLayout if fmt == "zip" else layout.TarLayout)(members)
        self.length = self.layout.length
        self.etag = self._etag()

    def close(self):
        """Let go of the generated members' spools."""
        for source in self.sources:
            if source.data is not None:
                source.data.close()

    def _etag(self):
        """Of every input: the headers as laid out (names, sizes, times as written, so the
        server's time zone too), each file's identity (ctime included: a file written to
        with its mtime put back is another file), each generated member's sha256."""
        h = hashlib.sha256(f"nbext_pkg {__version__} {self.format} zlib {zlib.ZLIB_VERSION}\n".encode())
        for part in self.layout.parts:
            if part.kind == "fixed" and part.index >= 0:
                h.update(part.data)
        for m, source in zip(self.members, self.sources):
            h.update(repr((m.size, m.csize, m.deflated)).encode())
            if source.member is not None:
                f = source.member
                h.update(repr((f.dev, f.ino, f.size, f.mtime_ns, f.ctime_ns)).encode())
            elif source.digest is not None:
                h.update(source.digest.sha256.encode())
        h.update(json.dumps(self.manifest_doc, sort_keys=True, ensure_ascii=True).encode())
        return f'"nbx-{h.hexdigest()[:40]}"'

    # -- writing -----------------------------------------------------------------

    def write(self, sink, start=0, end=None):
        """Write bytes ``start`` to ``end`` (exclusive; None: the end) into ``sink``."""
        end = self.length if end is None else min(end, self.length)
        run = _Run(self, sink)
        try:
            at = start
            for part, skip in layout.parts_from(self.layout.parts, start):
                if at >= end:
                    break
                take = min(part.length - skip, end - at)
                if part.kind == "fixed":
                    run.out(part.data[skip : skip + take])
                elif part.kind == "data":
                    run.data(part.index, skip, take)
                elif part.kind == "descriptor":
                    run.out(
                        layout.descriptor(self.members[part.index], run.crc(part.index))[skip : skip + take]
                    )
                else:
                    run.out(run.tail()[skip : skip + take])
                at += take
            if hasattr(sink, "flush"):
                sink.flush()
        finally:
            run.close()


class _Run:
    """One ``write``: the files it opened, the digests it learnt, what it left out."""

    def __init__(self, archive, sink):
        self.archive, self.sink = archive, sink
        self.files = LocalFiles(archive.real_root)
        self.digests = [s.digest for s in archive.sources]
        # index -> the manifest's reason; what earlier downloads of this ETag left out.
        self.left_out = dict(digests.LEFT_OUT.get(archive.etag) or {}) if archive.format == "zip" else {}
        self._manifest = None

    def close(self):
        self.files.close()

    def out(self, data):
        if data:
            self.sink.write(data)

    def _leave_out(self, index, reason):
        if self.archive.format != "zip":
            raise Unsendable(
                f"{self.archive.members[index].name} changed after the tar's header announced it"
            )
        self.left_out[index] = reason
        known = dict(digests.LEFT_OUT.get(self.archive.etag) or {})
        known[index] = reason
        digests.LEFT_OUT.put(self.archive.etag, known, 64 * len(known))

    # -- a member's data -------------------------------------------------------------

    def data(self, index, skip, take):
        source = self.archive.sources[index]
        member = self.archive.members[index]
        if source.entry is None:
            self.out(self.manifest_bytes()[skip : skip + take])
        elif source.member is None:
            if member.deflated:
                self.out(source.compressed[skip : skip + take])
            else:
                for block in source.data.pieces(skip, take):
                    self.out(block)
        elif index in self.left_out:
            self._zeros(take)
        elif member.deflated:
            try:
                self.out(self._compressed(index)[skip : skip + take])
            except Changed as error:
                self._leave_out(index, error.reason)
                self._zeros(take)
        else:
            self._stored(index, skip, take)

    def _zeros(self, n):
        block = bytes(min(n, READ))
        while n > 0:
            self.out(block[:n])
            n -= len(block)

    def _compressed(self, index):
        source = self.archive.sources[index]
        if source.compressed is not None:
            return source.compressed
        data = self.files.read_all(source.member)
        compressed = deflate(data)
        digest = self.digests[index]
        if len(compressed) != self.archive.members[index].csize or (
            digest is not None and digest.crc != zlib.crc32(data)
        ):
            raise Changed(f"{source.member.rel} is not the file the plan deflated")
        if digest is None:
            self.digests[index] = _digest_of(data)
        source.compressed = compressed  # for the rest of this write
        if source.key is not None:
            self.archive.compressed.put(("file", source.key), compressed, len(compressed) + 100)
        return compressed

    def _stored(self, index, skip, take):
        """A stored file's bytes ``skip`` to ``skip + take``, hashed on the way unless the
        digest cache knows them (then from ``skip`` only: a resumed range reads no more)."""
        source = self.archive.sources[index]
        sent = 0
        try:
            with self.files.open(source.member) as checked:
                key = digests.identity(checked.opened)
                known = self.archive.cache.get(key) or self.digests[index]
                size = source.member.size
                crc, sha = 0, None if known else hashlib.sha256()
                at = skip if known else 0
                while at < skip + take:
                    block = os.pread(checked.fd, min(READ, skip + take - at), at)
                    if not block:
                        raise Changed(f"{source.member.rel} shrank while it was read")
                    if sha is not None:
                        crc = zlib.crc32(block, crc)
                        sha.update(block)
                    lo = max(skip - at, 0)
                    if lo < len(block):
                        self.out(block[lo:] if lo else block)
                        sent += len(block) - lo
                    at += len(block)
                if sha is not None and skip + take == size:
                    if os.pread(checked.fd, 1, size):
                        raise Changed(f"{source.member.rel} grew while it was read")
                    now = os.fstat(checked.fd)
                    if digests.identity(now) != key:
                        raise Changed(f"{source.member.rel} was written to while it was read")
                    known = digests.Digest(crc, sha.hexdigest())
                    self.archive.cache.put(key, known)
                elif known is not None and digests.identity(os.fstat(checked.fd)) != key:
                    raise Changed(f"{source.member.rel} was written to while it was read")
                if known is not None:
                    self.digests[index] = known
        except Changed as error:
            self._leave_out(index, error.reason)
            self._zeros(take - sent)

    def _hash(self, index):
        """The digest of a file that was not (wholly) read by this run."""
        source = self.archive.sources[index]
        try:
            with self.files.open(source.member) as checked:
                key = digests.identity(checked.opened)
                known = self.archive.cache.get(key)
                if known is None:
                    known = _digest_of_blocks(checked.blocks())
                    checked.finish()
                    self.archive.cache.put(key, known)
        except Changed as error:
            self._leave_out(index, error.reason)
            return None
        self.digests[index] = known
        return known

    def digest(self, index):
        if index in self.left_out:
            return None
        if self.digests[index] is None:
            self._hash(index)
        return self.digests[index]

    def crc(self, index):
        if self.archive.sources[index].entry is None:
            return zlib.crc32(self.manifest_bytes())
        found = self.digest(index)
        return found.crc if found is not None else 0

    # -- what needs every digest -----------------------------------------------------

    def manifest_bytes(self):
        if self._manifest is None:
            self._manifest = self._make_manifest()
        return self._manifest

    def _make_manifest(self):
        archive = self.archive
        doc = dict(archive.manifest_doc)
        files, skipped = [], list(doc["skipped"])
        for index, source in enumerate(archive.sources):
            if source.entry is None:
                continue
            found = self.digest(index)
            if found is None:
                skipped.append({"reference": source.entry["path"], "reason": self.left_out[index]})
                continue
            files.append({**source.entry, "sha256": found.sha256})
        doc["files"], doc["skipped"] = files, skipped
        data = manifest.dumps(doc)
        room = archive.members[-1].size
        if len(data) > room:
            raise Unsendable("the manifest outgrew the room the layout gave it")
        return data[:-1] + b" " * (room - len(data)) + b"\n"

    def tail(self):
        archive = self.archive
        crcs = [self.crc(i) for i in range(len(archive.members))]  # left_out is final after
        try:
            return archive.layout.tail(crcs, set(self.left_out))
        except ValueError as error:
            raise Unsendable(str(error)) from None


def build(
    fmt,
    real_root,
    top,
    notebook,
    files,
    generated,
    manifest_arcname,
    manifest_doc=None,
    cache=None,
    compressed=None,
):
    """The SizedArchive of a planned bundle.

    ``notebook``: (arcname, bytes or a spool, mtime, original); ``files``: the plan's
    Members; ``generated``: [(arcname, bytes or a spool)] for the HTML copy and
    requirements.txt, in order (the archive closes the spools: ``close``);
    ``manifest_doc``: manifest.document's dict (its ``files`` and ``created`` are filled
    in here, and the files again at the end, with every sha256). ``generated`` may be a
    callable instead, called once the files are planned, that returns both (the
    generated members may be in the making meanwhile). Deflates what the
    module's docstring says, here and now (``cache``: a digests.DigestCache, ``compressed``:
    a digests.Memo of deflated bytes; the server's own by default).
    """
    cache = digests.CACHE if cache is None else cache
    compressed_memo = digests.COMPRESSED if compressed is None else compressed
    zip_ = fmt == "zip"
    budget = DEFLATE_TOTAL
    loader = LocalFiles(real_root)
    members, sources = [], []
    newest = max([notebook[2]] + [m.mtime_ns / 1e9 for m in files])

    def add_generated(arcname, data, mtime, original=None):
        blob = Blob(data)
        source = Source(data=blob, digest=blob.digest(), entry={"path": arcname, "size": blob.size})
        if original is not None:
            source.entry["original"] = original
        deflated = False
        if zip_ and blob.size <= GENERATED_DEFLATE_MAX:
            memo = ("sha256", source.digest.sha256)
            compressed = compressed_memo.get(memo)
            if compressed is None:
                whole = blob.whole()
                compressed = deflate(whole)
                if not worth(arcname, whole, compressed):
                    compressed = b""  # remembered as not worth it
                compressed_memo.put(memo, compressed, len(compressed) + 100)
            if compressed:
                source.compressed, deflated = compressed, True
        csize = len(source.compressed) if deflated else blob.size
        members.append(layout.Member(f"{top}/{arcname}", blob.size, csize, deflated, mtime))
        sources.append(source)

    try:
        arcname, data, mtime, original = notebook
        add_generated(arcname, data, mtime, original)
        for f in files:
            source = Source(member=f, entry={"path": f.arcname, "size": f.size})
            if f.original is not None:
                source.entry["original"] = f.original
            deflated, csize = False, f.size
            candidate = (
                zip_
                and DEFLATE_MIN <= f.size <= DEFLATE_MAX
                and f.size <= budget
                and os.path.splitext(f.rel)[1].lower() not in COMPRESSED_SUFFIXES
            )
            if candidate:
                budget -= f.size
                deflated, csize = _plan_deflate(loader, f, source, cache, compressed_memo)
            members.append(layout.Member(f"{top}/{f.arcname}", f.size, csize, deflated, f.mtime_ns / 1e9))
            sources.append(source)
        if callable(generated):
            generated, manifest_doc = generated()
        for arcname, data in generated:
            add_generated(arcname, data, newest)
    finally:
        loader.close()
    doc = dict(manifest_doc, created=manifest.stamp(newest))
    # The manifest's room: every file listed, with a sha256 of the same length as any.
    doc["files"] = [{**s.entry, "sha256": "0" * 64} for s in sources]
    room = len(manifest.dumps(doc))
    doc["files"] = None
    members.append(layout.Member(f"{top}/{manifest_arcname}", room, room, False, newest))
    sources.append(Source())
    return SizedArchive(fmt, real_root, members, sources, doc, cache, compressed_memo)


def _plan_deflate(loader, f, source, cache, memo):
    """(deflated, csize) of a small file, from the cache or by deflating it now (its
    deflated bytes then kept in ``source``, and in ``memo`` for the next bundle). A file
    that changed since it was listed is planned stored: the writer then leaves it out."""
    if f.ctime_ns:  # the plan's own stat is the identity: a file known is not even opened
        known = cache.get((f.dev, f.ino, f.size, f.mtime_ns, f.ctime_ns))
        if known is not None and known.deflated is not None:
            source.digest = known
            if known.deflated > 0:
                source.key = (f.dev, f.ino, f.size, f.mtime_ns, f.ctime_ns)
                source.compressed = memo.get(("file", source.key))
                return True, known.deflated
            return False, f.size
    try:
        with loader.open(f) as checked:
            key = digests.identity(checked.opened)
            known = cache.get(key)
            if known is not None and known.deflated is not None:
                source.digest = known
                if known.deflated > 0:
                    source.compressed = memo.get(("file", key))
                    source.key = key
                    return True, known.deflated
                return False, f.size
            data = b"".join(checked.blocks())
            checked.finish()
    except Changed:
        return False, f.size
    compressed = deflate(data)
    good = worth(f.rel, data, compressed)
    digest = digests.Digest(
        zlib.crc32(data), hashlib.sha256(data).hexdigest(), len(compressed) if good else -1
    )
    cache.put(key, digest)
    source.digest = digest
    if good:
        source.compressed, source.key = compressed, key
        memo.put(("file", key), compressed, len(compressed) + 100)
        return True, len(compressed)
    return False, f.size
