"""What an archive opened here must obey, and how a refusal is said: the limits, the
errors, and the rules for one member's name (it stays inside the new folder, it meets no
other name on a disk that ignores case or Unicode form). Pure: no disk is touched."""

import os
import re
import unicodedata
from dataclasses import dataclass, field

BLOCK = 1024 * 1024
BOMB_FLOOR = 16 * 1024**2  # the ratio is judged only past this many bytes out
MAX_DEPTH = 64  # folders in one member's name (each level costs the checks memory)
MAX_NAME_BYTES = 4096  # one member's whole name, as Linux allows a path
NOTHING = ", so nothing was opened."


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


def size_text(n):
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


class DiskFull(OpenFailed):
    """No room (or quota) left for what the archive holds."""


class NotWritable(OpenFailed):
    """The folder the archive would open into cannot be written to."""


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


class Names:
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


class Budget:
    """Bytes out so far, against the limits; fed declared sizes first, then real ones."""

    def __init__(self, limits, archive_size):
        self.limits, self.archive_size, self.total = limits, max(archive_size, 1), 0

    def add(self, n):
        self.total += n
        if self.total > self.limits.max_bytes:
            raise Refused(
                f"The archive holds more than {size_text(self.limits.max_bytes)} once opened, "
                "more than NbextPkg.open_max_bytes allows"
            )
        if self.total > BOMB_FLOOR and self.total > self.limits.max_ratio * self.archive_size:
            raise Refused(
                f"The archive grows more than {self.limits.max_ratio:g} times its size when "
                "opened (a compression bomb?), more than NbextPkg.open_max_ratio allows"
            )


def too_many(limits):
    return Refused(f"The archive holds more members than NbextPkg.open_max_files allows ({limits.max_files})")
