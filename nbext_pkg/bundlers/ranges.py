"""Which bytes of a bundle of known length a request asks for (RFC 9110, sections 13.1.5
and 14): ``Range`` with one range of bytes, honoured only when ``If-Range`` (if sent)
names the bundle's current ETag.

Pure: no tornado. A Range the server does not understand (another unit, several ranges,
bad syntax) is ignored, as the RFC allows: the whole bundle is sent with 200.
"""

import re

_SPEC = re.compile(r"bytes=(\d*)-(\d*)", re.IGNORECASE)  # the unit is case-insensitive


class Unsatisfiable(Exception):
    """The range lies wholly past the end: 416, with ``Content-Range: bytes */length``."""


def requested(range_header, if_range, etag, length):
    """(start, end): end exclusive, for 206; None for the whole bundle (200). Raises
    Unsatisfiable for a range past the end."""
    if not range_header:
        return None
    if if_range is not None and if_range.strip() != etag:
        return None  # the client's copy is of other bytes (or dated): all of the new ones
    found = _SPEC.fullmatch(range_header.strip())
    if found is None:
        return None
    first, last = found.groups()
    if len(first) > 20 or len(last) > 20 or not (first or last):
        return None
    if not first:  # the last N bytes
        suffix = int(last)
        if suffix == 0 or length == 0:
            raise Unsatisfiable()
        return max(length - suffix, 0), length
    start = int(first)
    end = length if not last else int(last) + 1
    if last and end <= start:
        return None  # invalid: ignored
    if start >= length:
        raise Unsatisfiable()
    return start, min(end, length)
