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

The parts: open_rules.py (limits, errors, the rules for names), members.py (reading zip and
tar, the survey, copying one member), verify.py (the manifest), folders.py (temporary and
final folders). This module puts them together, and is what callers import.
"""

import errno
import os

from . import folders, members, open_rules
from . import verify as checking
from .folders import TEMP, alive, folder_name, free_name, remove_tree, rename_noreplace, sweep
from .members import BLOCK, open_archive, open_checked, survey
from .open_rules import (
    DEFAULT_LIMITS,
    MAX_DEPTH,
    Cancelled,
    DiskFull,
    Limits,
    NotWritable,
    Opened,
    OpenFailed,
    Refused,
    limits_from,
    parts_of,
    shown,
)
from .verify import Audit, audit, compare, find_manifest, summary, verify

__all__ = [
    "BLOCK",
    "DEFAULT_LIMITS",
    "MAX_DEPTH",
    "TEMP",
    "Audit",
    "Cancelled",
    "DiskFull",
    "Limits",
    "NotWritable",
    "OpenFailed",
    "Opened",
    "Refused",
    "alive",
    "audit",
    "compare",
    "extract",
    "find_manifest",
    "folder_name",
    "free_name",
    "limits_from",
    "open_archive",
    "open_checked",
    "parts_of",
    "remove_tree",
    "rename_noreplace",
    "shown",
    "summary",
    "survey",
    "sweep",
    "verify",
]


def _fill(archive, steps, temp, limits, name, cancel):
    """The second pass: copy what the survey let through; (rel -> (size, sha256), manifest
    candidates, bytes)."""
    top = members.common_top({parts: m.kind for m, parts in steps if parts is not None})
    budget, hashed, candidates = open_rules.Budget(limits, archive.size), {}, {}
    folder = folders.Folder(temp)
    try:
        second_pass = members.each(archive)
        for planned, parts in steps:
            member = next(second_pass, None)
            if member is None or (member.raw, member.kind, member.size) != (
                planned.raw,
                planned.kind,
                planned.size,
            ):
                raise Refused(f"{name} changed while it was being opened")
            rel = members.inside(parts, top) if parts is not None else ()
            if not rel:
                continue
            if member.kind == "dir":
                os.close(folder.folder(rel))
                continue
            fd = folder.create(rel)
            try:
                size, sha, data = members.stream(
                    archive,
                    member,
                    budget,
                    name,
                    cancel,
                    fd,
                    keep=checking.manifest_name("/".join(rel)) and members.room(candidates),
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
    base = folders.plain(name) if name is not None else folders.folder_name(archive_path)
    try:
        f = members.open_checked(archive_path, expect)
    except OSError as error:
        raise OpenFailed(
            f"{shown_name} could not be read ({error.strerror}), so nothing was opened."
        ) from None
    with f:
        archive = members.open_archive(f, shown_name, limits)
        steps, left_out = members.survey(archive, limits, cancel)
        if exact and os.path.lexists(os.path.join(parent, base)):
            raise folders.taken(parent, base)
        folders.sweep(parent)
        try:
            temp = folders.make_temp(parent)
        except OSError as error:
            raise _disk_failure(error, shown_name, parent) from None
        try:
            top, hashed, candidates, total = _fill(archive, steps, temp, limits, shown_name, cancel)
            found = checking.find_manifest(candidates)
            mismatches = []
            if found is not None:
                excused = {"/".join(members.inside(parts_of(raw), top)) for raw, _ in left_out}
                mismatches = checking.compare(*found, hashed, excused)
            placed = folders.place(temp, parent, base, exact)
        except BaseException as error:
            try:
                folders.remove_tree(temp)
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
        manifest=checking.summary(*found) if found is not None else None,
        mismatches=mismatches,
    )
