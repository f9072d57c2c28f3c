"""Reading the files of a store that is not this disk, once they are planned: the
writer's reader (:class:`ContentsFiles`), which takes each file from a reading process
(reader.py) or from the server's own manager on the writer's thread, and what turns a
model's content into bytes: base64 decoded in slices into a spool, text, JSON. At most
one file's model is held at a time, and a large one is followed by a trim of the heap.
Imports neither tornado nor notebook.
"""

import base64
import binascii
import ctypes
import ctypes.util
import dataclasses
import io
import json
import logging
import tempfile

from .archive import SPOOL_MEMORY
from .options import Cancelled
from .reader import ReaderFailed, ReaderTimeout
from .sources import READ_SIZE, Blocks, Changed, LocalFiles, Missing

log = logging.getLogger("nbext_pkg")
# Base64 characters decoded at a time: a few milliseconds of work between two chances
# for the event loop's thread to run.
_SLICE = 4 * 1024 * 1024
# A model this large is followed by a malloc_trim, so what its decoding held goes back
# to the system rather than staying in the server's heap.
_TRIM_AFTER = 8 * 1024 * 1024


class TooLarge(Changed):
    reason = "too-large"


class OverBudget(Changed):
    """A file whose size the plan could not know takes the bundle over its byte limit."""

    reason = "limit"


class Unreadable(Changed):
    reason = "unreadable"


class FetchedFile(Blocks):
    """A file read through the API into a spool, with the interface of
    sources.CheckedFile; ``item`` carries the size the content had."""

    def __init__(self, spool, item, size=None):
        self.spool, self.item = spool, item
        self.size = item.size if size is None else size
        spool.seek(0)

    def read(self, n=READ_SIZE):
        return self.spool.read(n)

    def finish(self):
        pass  # whole by construction

    def close(self):
        self.spool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ContentsFiles:
    """Reads a ContentsTree's planned files: from disk for the paths a mixed manager
    keeps there, through the API for the rest. ``budget`` is what is left of the
    bundle's byte limit for the files whose size the plan did not know."""

    def __init__(self, tree, options, budget, images=None):
        self.tree, self.options, self.budget = tree, options, budget
        self.reader, tree.reader = tree.reader, None  # it reads for this writer now
        self._local = {}
        # The HTML copy's images read through the API are kept as they are written, up to
        # the embedding limits, so they are neither fetched twice nor embedded unwritten.
        self._embeddable = {member.rel for member in (images or {}).values()}
        self._kept, self._keep_left = {}, options.embed_total_bytes

    def open(self, item):
        if item.real.startswith("/"):
            owner = self.tree._owner(item.real)
            if owner is None:
                raise Changed(f"{item.rel} is not below any root")
            if owner.real_root not in self._local:
                self._local[owner.real_root] = LocalFiles(owner.real_root)
            return self._local[owner.real_root].open(item)
        fetched = self.fetch(item, self.options.max_contents_file_bytes)
        size = fetched.item.size
        if item.rel in self._embeddable and size <= min(self.options.embed_max_bytes, self._keep_left):
            with fetched:
                data = b"".join(fetched.blocks())
                fetched.finish()
            self._kept[item.rel] = data
            self._keep_left -= size
            fetched = FetchedFile(io.BytesIO(data), fetched.item)
        return fetched

    def read_all(self, item, limit=None):
        if item.real.startswith("/"):
            with self.open(item) as checked:
                data = b"".join(checked.blocks())
                checked.finish()
            return data
        data = self._kept.get(item.rel)
        if data is None:
            raise Changed(f"{item.rel} is not in the bundle as read, or over the embedding limits")
        return data

    def fetch(self, item, limit):
        """A FetchedFile of the API file ``item``; Changed (a reason) when it cannot be."""
        if item.size > limit:
            raise TooLarge(f"{item.rel}: {item.size} bytes, over the limit of {limit}")
        if self.options.cancel.is_set():
            raise Cancelled()
        fetched = None
        if self.reader is not None:
            try:
                fetched = self.reader.open(item.real, limit, self.options.cancel, self.options.plan_timeout)
            except ReaderTimeout as error:  # read here, the store would not answer either
                self.reader.done()
                self.reader = None
                raise Unreadable(f"{item.rel}: {error}") from None
            except ReaderFailed as error:
                log.warning("nbext_pkg: %s; the rest of this bundle is read in the server", error)
                self.reader.done()
                self.reader = None
        if fetched is None:
            spool = self._fetch_here(item, limit)
            fetched = FetchedFile(spool, None, spool.tell())
        size = fetched.size
        try:
            if item.size >= 0 and size != item.size:
                raise Changed(f"{item.rel} changed between its listing and its reading")
            if item.size < 0 and size > self.budget:
                raise OverBudget(f"{item.rel} would take the bundle over its byte limit")
        except Changed:
            fetched.close()
            raise
        if item.size < 0:
            self.budget -= size
        fetched.item = dataclasses.replace(item, size=size)
        return fetched

    def _fetch_here(self, item, limit):
        model = self.tree.store.get(item.real, content=True, type="file", format="base64")
        big = is_big(model)
        try:
            return spool_of(model, item, limit, self.options.cancel)
        finally:
            model = None
            if big:
                self.tree.store.release()

    def close(self):
        for files in self._local.values():
            files.close()
        self._local = {}
        if self.reader is not None:
            self.reader.done()
            self.reader = None


def is_big(model):
    """Whether a model's content is large enough to trim the heap after (_TRIM_AFTER)."""
    content = model.get("content")
    return isinstance(content, (str, bytes)) and len(content) > _TRIM_AFTER


def spool_of(model, item, limit, cancel):
    """The model's content in a spool; whatever goes wrong (no room to spool it, text
    that cannot be encoded, JSON that cannot be written) costs this file only."""
    try:
        return _content(model, item, limit, cancel)
    except (OSError, ValueError, TypeError, MemoryError) as error:
        raise Unreadable(f"{item.rel}: {error!r}") from None


def _content(model, item, limit, cancel):
    """The model's content in a spool, decoded; Missing when the model holds none."""
    content, fmt = model.get("content"), model.get("format")
    if content is None:
        raise Missing(f"{item.rel}: the storage returned no content")
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY, prefix="nbext_pkg-")
    try:
        if fmt == "base64" and isinstance(content, (str, bytes)):
            _decode_into(
                spool, content if isinstance(content, str) else content.decode("ascii"), limit, item, cancel
            )
        elif fmt == "text" and isinstance(content, str):
            _write_limited(spool, content.encode("utf-8", "surrogateescape"), limit, item)
        elif fmt == "json" and isinstance(content, dict):  # a notebook's model despite type=file
            _write_limited(spool, json.dumps(content, indent=1).encode("utf-8"), limit, item)
        elif isinstance(content, bytes):
            _write_limited(spool, content, limit, item)
        else:
            raise Unreadable(f"{item.rel}: content in an unknown format {fmt!r}")
    except BaseException:
        spool.close()
        raise
    return spool


def _write_limited(spool, data, limit, item):
    if spool.tell() + len(data) > limit:
        raise TooLarge(f"{item.rel}: over the limit of {limit} bytes")
    spool.write(data)


def _decode_into(spool, text, limit, item, cancel):
    """Decode base64 ``text`` into ``spool`` a slice at a time (line breaks allowed,
    as notebook 6's file manager writes them)."""
    carry, padded = "", False
    for at in range(0, len(text), _SLICE):
        if cancel.is_set():
            raise Cancelled()
        piece = carry + text[at : at + _SLICE]
        if "\n" in piece or "\r" in piece or " " in piece or "\t" in piece:
            piece = "".join(piece.split())
        if padded and piece:
            raise Unreadable(f"{item.rel}: its base64 content goes on after its padding")
        whole = len(piece) - len(piece) % 4
        padded = piece[:whole].endswith("=")
        try:
            data = _strict_b64(piece[:whole])
        except (binascii.Error, ValueError) as error:
            raise Unreadable(f"{item.rel}: its base64 content is damaged ({error})") from None
        _write_limited(spool, data, limit, item)
        carry = piece[whole:]
    if carry.strip("="):
        raise Unreadable(f"{item.rel}: its base64 content is cut short")


def _strict_b64(text):
    """Bytes of base64 ``text``; binascii.Error for any character outside the alphabet
    (the lenient default would skip it and give other bytes)."""
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except TypeError:  # before Python 3.11
        return base64.b64decode(text, validate=True)


_libc = None


def trim():
    """Give the heap's free memory back to the system (glibc only; elsewhere nothing)."""
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _libc.malloc_trim.argtypes = [ctypes.c_size_t]
        except (OSError, AttributeError):
            _libc = False
    if _libc:
        _libc.malloc_trim(0)
