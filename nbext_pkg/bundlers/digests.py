"""What was learnt about a file's bytes, kept for the next bundle that holds it: its
CRC-32 and sha256, and the size it deflates to (None: not worth deflating, or never
tried).

A file is known by its device, inode, size, mtime and ctime (in nanoseconds) as ``fstat``
gives them on the open file, so a file that is written to, replaced or renamed over is a
new one: no write can leave all five as they were (ctime cannot be set back). The cache
is bounded (least recently used entries go first), lives in the server's memory and is
gone when the server stops. Thread-safe.
"""

import collections
import threading
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


class DigestCache:
    def __init__(self, max_entries=MAX_ENTRIES):
        self.max_entries = max_entries
        self._entries = collections.OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key):
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key, digest):
        with self._lock:
            self._entries[key] = digest
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self):
        with self._lock:
            self._entries.clear()

    def __len__(self):
        return len(self._entries)


CACHE = DigestCache()
