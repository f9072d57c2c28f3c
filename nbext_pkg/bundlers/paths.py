"""A reference turned into regular files safely inside the server root, or a reason to skip it.

Pure (standard library only) and total: every input string gives a list or a Skip, never an
exception, never a change of the working directory.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import posixpath
import re
import stat
from dataclasses import dataclass

# "too-large" and "limit" are given by the bundle plan, not here; listed so there is one set.
REASONS = (
    "missing",
    "outside-root",
    "hidden",
    "symlink-outside-root",
    "unreadable",
    "too-large",
    "limit",
)
# A path through a regular file (ENOTDIR) names nothing, just as a missing one does.
_MISSING_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR})
_GLOB_MAGIC = re.compile(r"[*?[]")


@dataclass(frozen=True)
class Resolved:
    """A regular file to bundle: where it really is, and where its link places it."""

    real: str
    rel: str
    size: int


@dataclass(frozen=True)
class Skip:
    """A reference left out of the bundle, and why (one of REASONS)."""

    reference: str
    reason: str


def resolve(
    root: str,
    notebook_dir: str,
    path: str,
    root_relative: bool,
    *,
    allow_hidden: bool = False,
    written: str | None = None,
    cap: int | None = None,
) -> list[Resolved] | Skip:
    """The regular files `path` names (one, or all below a folder), or why it is skipped.
    Below a folder, the walk stops after `cap` + 1 files (more than any plan can take)."""
    skip_as = written if written is not None else path
    if "\x00" in path or "\x00" in notebook_dir or posixpath.isabs(path):
        return Skip(skip_as, "outside-root")
    rel = _lexical(notebook_dir, path, root_relative)
    if rel is None:
        return Skip(skip_as, "outside-root")
    # Decided before touching the disk, so a skip never tells whether a hidden file exists.
    if not allow_hidden and _hidden(rel):
        return Skip(skip_as, "hidden")
    try:
        real_root = os.path.realpath(root)
        real = os.path.realpath(_on_disk(real_root, rel))
    except (OSError, ValueError):
        # ValueError: a name the file system cannot encode (lone surrogates) cannot exist.
        return Skip(skip_as, "missing")
    if not _inside(real, real_root):
        return Skip(skip_as, "symlink-outside-root")
    # A visible link must not smuggle out a hidden target such as .ssh/id_rsa.
    if not allow_hidden and _hidden(_relative_to(real, real_root)):
        return Skip(skip_as, "hidden")
    try:
        info = os.stat(real)
    except OSError as error:
        return Skip(skip_as, "missing" if error.errno in _MISSING_ERRNOS else "unreadable")
    except ValueError:
        return Skip(skip_as, "missing")
    if stat.S_ISDIR(info.st_mode):
        return _walk(real_root, real, rel, allow_hidden, cap)
    # Not a regular file (FIFO, socket, device): reading it could block or never end.
    if not stat.S_ISREG(info.st_mode) or not _readable(real):
        return Skip(skip_as, "unreadable")
    return [Resolved(real, rel, info.st_size)]


def expand_glob(
    root: str, notebook_dir: str, pattern: str, *, allow_hidden: bool = False
) -> list[Resolved]:
    """Files matching a metadata glob relative to the notebook's folder, ``**`` included.

    Matched by walking the tree ourselves rather than with ``glob.glob``: that follows
    symlinked folders while recursing, so a link loop or a link to ``/`` would make ``**``
    explode. ``..`` may only lead the pattern; an absolute pattern matches nothing.
    """
    if not pattern or "\x00" in pattern or "\x00" in notebook_dir or posixpath.isabs(pattern):
        return []
    parts = [part for part in pattern.split("/") if part not in ("", ".")]
    first_magic = next((i for i, part in enumerate(parts) if _GLOB_MAGIC.search(part)), len(parts))
    if ".." in parts[first_magic:]:
        return []
    base = _lexical(notebook_dir, "/".join(parts[:first_magic]), False)
    if base is None:
        return []
    try:
        real_root = os.path.realpath(root)
    except (OSError, ValueError):
        return []
    found: dict[str, Resolved] = {}
    for rel in _match(real_root, base, parts[first_magic:], allow_hidden):
        result = resolve(root, "", rel, True, allow_hidden=allow_hidden, written=pattern)
        if isinstance(result, list):
            for item in result:
                found.setdefault(item.rel, item)
    return [found[rel] for rel in sorted(found)]


# --- helpers -----------------------------------------------------------------------------


def _lexical(notebook_dir: str, path: str, root_relative: bool) -> str | None:
    """Root-relative "/"-path without "." or ".." ("" is the root), None if it leaves the root.

    Normalised as a browser does a URL, before any symlink is looked at: "../" that leaves
    the root is refused even where it would come back in.
    """
    base = "" if root_relative else notebook_dir.strip("/")
    joined = posixpath.normpath(posixpath.join(base, path))
    if joined == ".." or joined.startswith(("../", "/")):
        return None
    return "" if joined == "." else joined


def _on_disk(real_root: str, rel: str) -> str:
    return os.path.join(real_root, *rel.split("/")) if rel else real_root


def _inside(real: str, real_root: str) -> bool:
    """Whole-component containment: /x/nb holds /x/nb/a but not /x/nb_evil/a."""
    try:
        return os.path.commonpath([real, real_root]) == real_root
    except ValueError:
        return False


def _relative_to(real: str, real_root: str) -> str:
    rel = os.path.relpath(real, real_root)
    return "" if rel == os.curdir else rel.replace(os.sep, "/")


def _hidden(rel: str) -> bool:
    return any(part.startswith(".") for part in rel.split("/") if part)


def _readable(real: str) -> bool:
    try:
        return os.access(real, os.R_OK)
    except (OSError, ValueError):
        return False


def _regular_file(real_root: str, full: str, rel: str, allow_hidden: bool) -> Resolved | None:
    """One walked entry as a Resolved, or None for anything the walk leaves out silently."""
    try:
        real = os.path.realpath(full)
        if not _inside(real, real_root):
            return None
        if not allow_hidden and _hidden(_relative_to(real, real_root)):
            return None
        info = os.stat(real)
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(info.st_mode) and _readable(real):
        return Resolved(real, rel, info.st_size)
    return None


def _walk(real_root: str, top: str, rel: str, allow_hidden: bool, cap: int | None = None) -> list[Resolved]:
    """Every regular file below the folder `top`, named under `rel`, sorted by rel.

    Symlinked folders are not entered (followlinks=False); symlinked files count when their
    target is inside the root. The device/inode set guards against bind-mount cycles.
    """
    found: list[Resolved] = []
    visited: set[tuple[int, int]] = set()
    for folder, subfolders, files in os.walk(top, followlinks=False):
        try:
            info = os.stat(folder)
        except OSError:
            subfolders[:] = []
            continue
        if (info.st_dev, info.st_ino) in visited:
            subfolders[:] = []
            continue
        visited.add((info.st_dev, info.st_ino))
        subfolders[:] = sorted(d for d in subfolders if allow_hidden or not d.startswith("."))
        below = _relative_to(folder, top)
        for name in sorted(files):
            if not allow_hidden and name.startswith("."):
                continue
            entry_rel = "/".join(part for part in (rel, below, name) if part)
            item = _regular_file(real_root, os.path.join(folder, name), entry_rel, allow_hidden)
            if item is not None:
                found.append(item)
                if cap is not None and len(found) > cap:
                    # A link to "." in a home folder must not walk the whole disk
                    # only to be cut at the limit: enough is known already.
                    found.sort(key=lambda item: item.rel)
                    return found
    found.sort(key=lambda item: item.rel)
    return found


def _entries(real_root: str, rel: str, allow_hidden: bool) -> list[os.DirEntry]:
    """The sorted entries of a folder inside the root; none for anything else."""
    folder = _on_disk(real_root, rel)
    try:
        if not _inside(os.path.realpath(folder), real_root):
            return []
        with os.scandir(folder) as listing:
            entries = [entry for entry in listing if allow_hidden or entry.name[0] != "."]
    except (OSError, ValueError):
        return []
    return sorted(entries, key=lambda entry: entry.name)


def _plain_folder(entry: os.DirEntry) -> tuple[int, int] | None:
    """(device, inode) of a real folder, None for files and symlinks."""
    try:
        if entry.is_dir(follow_symlinks=False):
            info = entry.stat(follow_symlinks=False)
            return info.st_dev, info.st_ino
    except OSError:
        pass
    return None


def _match(real_root: str, base: str, parts: list[str], allow_hidden: bool) -> list[str]:
    """Root-relative paths below `base` matching the glob components `parts`.

    ``**`` is zero or more real folders (symlinked ones are not entered); other components
    match one name with fnmatch. An explicit stack keeps deep trees off the call stack.
    """
    matched: list[str] = []
    done: set[tuple[str, int]] = set()
    entered: set[tuple[int, int, int]] = set()
    stack = [(base, 0)]
    while stack:
        rel, index = stack.pop()
        if (rel, index) in done:
            continue
        done.add((rel, index))
        if index == len(parts):
            matched.append(rel)
            continue
        part = parts[index]
        if part == "**":
            stack.append((rel, index + 1))
            for entry in _entries(real_root, rel, allow_hidden):
                key = _plain_folder(entry)
                if key is not None and (*key, index) not in entered:
                    entered.add((*key, index))
                    stack.append((posixpath.join(rel, entry.name), index))
        elif _GLOB_MAGIC.search(part):
            for entry in _entries(real_root, rel, allow_hidden):
                if fnmatch.fnmatchcase(entry.name, part):
                    stack.append((posixpath.join(rel, entry.name), index + 1))
        else:
            stack.append((posixpath.join(rel, part), index + 1))
    return matched
