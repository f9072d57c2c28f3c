"""What was learnt about a file's bytes, kept for the next bundle that holds it: its
CRC-32 and sha256, and the size it deflates to (None: never tried; -1: not worth it). And
a few bounded memos of what a repeated bundle would otherwise make again (``Memo``).

A file is known by its device, inode, size, mtime and ctime (in nanoseconds) as ``fstat``
gives them on the open file, so a file that is written to, replaced or renamed over is a
new one: no write can leave all five as they were (ctime cannot be set back). The cache
is bounded (least recently used entries go first), lives in the server's memory and is
gone when the server stops. Thread-safe.
"""

import collections
import threading
import time
from dataclasses import dataclass

MAX_ENTRIES = 100_000


@dataclass(frozen=True)
class Digest:
    crc: int
    sha256: str
    deflated: int = None


def identity(info):
    """The key of a file, from its ``os.stat_result``."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


class Memo:
    """A bounded map of what is costly to make again: at most ``max_entries`` entries and
    ``max_bytes`` of them in all (each put says what it costs), none older than ``ttl``
    seconds (None: no age limit); the least recently used go first. Thread-safe."""

    def __init__(self, max_entries, max_bytes, ttl=None):
        self.max_entries, self.max_bytes, self.ttl = max_entries, max_bytes, ttl
        self._entries = collections.OrderedDict()  # key -> (value, cost, when)
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            value, cost, when = found
            if self.ttl is not None and time.monotonic() - when > self.ttl:
                del self._entries[key]
                self._bytes -= cost
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key, value, cost):
        if cost > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (value, cost, time.monotonic())
            self._bytes += cost
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, (_, dropped, _) = self._entries.popitem(last=False)
                self._bytes -= dropped

    def clear(self):
        with self._lock:
            self._entries.clear()
            self._bytes = 0


class DigestCache(Memo):
    """Digests by file identity (``identity``): a Memo bounded by its count alone."""

    def __init__(self, max_entries=MAX_ENTRIES):
        super().__init__(max_entries, max_bytes=max_entries)

    def put(self, key, digest):
        super().put(key, digest, 1)

    def __len__(self):
        return len(self._entries)


CACHE = DigestCache()
# Deflated bytes of small files (by identity) and of generated members (by sha256).
COMPRESSED = Memo(max_entries=20_000, max_bytes=16 * 1024 * 1024)
# A notebook's facts (references, metadata), by its sha256 and how they were read.
FACTS = Memo(max_entries=256, max_bytes=4 * 1024 * 1024)
# The HTML copy and requirements.txt of a notebook, by its sha256, the options and the
# identities of the images embedded; requirements.txt reflects the server's installed
# packages, which may change: kept five minutes.
RENDERED = Memo(max_entries=64, max_bytes=16 * 1024 * 1024, ttl=300)
# The members a download of an ETag had to leave out (their place filled with zeros):
# every later download of that ETag leaves them out too, so that the bytes a resumed
# download joins to what the client has are the same bytes (for an hour, or until the
# server stops).
LEFT_OUT = Memo(max_entries=4096, max_bytes=4 * 1024 * 1024, ttl=3600)
