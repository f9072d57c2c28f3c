"""A reference turned into regular files safely inside the server root, or a reason to skip it.

Pure (standard library only) and total: every input string gives a list or a Skip, never an
exception, never a change of the working directory.

A :class:`Tree` is the root as one bundle plan sees it: each folder is listed at most once,
whatever mix of folder links and globs names it, ``realpath`` is taken only where a
component can be a link (the reference itself, a symlink met in a listing), and every
listing first calls the plan's ``check`` (its cancel signal and deadline). A folder is
listed through a descriptor opened from the root without following links, and only if
it is still the folder (device, inode) it was when it was found, so a folder swapped for
a link while the plan runs lists nothing from outside. What the tree finds carries the
device, inode, size and mtime it saw, so the file can later be opened and proved to be
the same one (``sources.LocalFiles``).
"""

from __future__ import annotations

import errno
import fnmatch
import os
import posixpath
import re
import stat
from dataclasses import dataclass, field

from .sources import LocalFiles

# "too-large" and "limit" are given by the bundle plan (and by contents.py for sizes learnt
# late), "changed" by the writer, "not-looked-for" by contents.Nowhere; listed here so
# there is one set.
REASONS = (
    "missing",
    "outside-root",
    "hidden",
    "symlink-outside-root",
    "unreadable",
    "too-large",
    "limit",
    "changed",
    "not-looked-for",
)
# A path through a regular file (ENOTDIR) names nothing, just as a missing one does.
_MISSING_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR})
_GLOB_MAGIC = re.compile(r"[*?[]")


@dataclass(frozen=True)
class Resolved:
    """A regular file to bundle: where it really is, where its link places it, and the
    identity it had when it was found (compared again when it is read). A size of -1
    is not known yet (a contents manager whose listings do not say)."""

    real: str
    rel: str
    size: int
    dev: int = field(default=0, compare=False)
    ino: int = field(default=0, compare=False)
    mtime_ns: int = field(default=0, compare=False)
    ctime_ns: int = field(default=0, compare=False)  # 0: not known (a store's file)


@dataclass(frozen=True)
class Skip:
    """A reference left out of the bundle, and why (one of REASONS)."""

    reference: str
    reason: str


def _resolved(real: str, rel: str, info: os.stat_result) -> Resolved:
    # (contents.py's listings make stat-like entries without a ctime: 0, not known)
    return Resolved(
        real, rel, info.st_size, info.st_dev, info.st_ino, info.st_mtime_ns, getattr(info, "st_ctime_ns", 0)
    )


class Tree:
    """The server root on this disk, as one plan walks it (see the module's docstring)."""

    def __init__(self, root: str, *, allow_hidden: bool = False, check=None) -> None:
        self.real_root = os.path.realpath(root)
        self.allow_hidden = allow_hidden
        self.check = check or (lambda: None)
        self._folders = LocalFiles(self.real_root)
        # real folder -> (files [(name, real, stat)], folders [(name, real, (dev, ino))])
        self._listings: dict[str, tuple[list, list]] = {}
        # real folder -> every file below it [(path below, real, stat)], cut at cap + 1
        self._below: dict[str, list] = {}

    # -- references ---------------------------------------------------------------------

    def resolve(
        self,
        notebook_dir: str,
        path: str,
        root_relative: bool,
        *,
        written: str | None = None,
        cap: int | None = None,
    ):
        """(files, is_folder) for the regular files `path` names, or a Skip."""
        skip_as = written if written is not None else path
        if "\x00" in path or "\x00" in notebook_dir or posixpath.isabs(path):
            return Skip(skip_as, "outside-root")
        rel = lexical(notebook_dir, path, root_relative)
        if rel is None:
            return Skip(skip_as, "outside-root")
        # Decided before touching the disk, so a skip never tells whether a hidden file exists.
        if not self.allow_hidden and hidden(rel):
            return Skip(skip_as, "hidden")
        found = self.locate(rel)
        if isinstance(found, str):
            return Skip(skip_as, found)
        real, info = found
        if stat.S_ISDIR(info.st_mode):
            return self._files_below(real, rel, cap, (info.st_dev, info.st_ino)), True
        # Not a regular file (FIFO, socket, device): reading it could block or never end.
        if not stat.S_ISREG(info.st_mode) or not self._readable(real):
            return Skip(skip_as, "unreadable")
        return [_resolved(real, rel, info)], False

    def locate(self, rel: str):
        """(real path, stat) of a root-relative path, following links, or a Skip reason."""
        try:
            real = os.path.realpath(_on_disk(self.real_root, rel))
        except (OSError, ValueError):
            # ValueError: a name the file system cannot encode (lone surrogates) cannot exist.
            return "missing"
        if not inside(real, self.real_root):
            return "symlink-outside-root"
        # A visible link must not smuggle out a hidden target such as .ssh/id_rsa.
        if not self.allow_hidden and hidden(_relative_to(real, self.real_root)):
            return "hidden"
        try:
            info = os.stat(real)  # (realpath has encoded the same name: no ValueError here)
        except OSError as error:
            return "missing" if error.errno in _MISSING_ERRNOS else "unreadable"
        return real, info

    def glob(self, notebook_dir: str, pattern: str, *, cap: int | None = None) -> list[Resolved]:
        """Files matching a metadata glob relative to the notebook's folder, ``**`` included.

        ``**`` is zero or more real folders; other components match one name with fnmatch.
        Linked folders are not entered (a link loop or a link to ``/`` would make ``**``
        explode), though the literal part before the first wildcard may go through links
        inside the root. ``..`` may only lead the pattern; an absolute one matches nothing.
        A folder that matches the whole pattern (``data/**`` at ``data``) is taken whole,
        without matching what lies below it again.
        """
        if not pattern or "\x00" in pattern or "\x00" in notebook_dir or posixpath.isabs(pattern):
            return []
        parts = [part for part in pattern.split("/") if part not in ("", ".")]
        first_magic = next((i for i, part in enumerate(parts) if _GLOB_MAGIC.search(part)), len(parts))
        if ".." in parts[first_magic:]:
            return []
        literal = "/".join(parts[:first_magic])
        if first_magic == len(parts):
            result = self.resolve(notebook_dir, literal, False, cap=cap)
            return [] if isinstance(result, Skip) else result[0]
        base = lexical(notebook_dir, literal, False)
        if base is None or (not self.allow_hidden and hidden(base)):
            return []
        found = self.locate(base)
        if isinstance(found, str) or not stat.S_ISDIR(found[1].st_mode):
            return []
        return self._match(found[0], base, parts[first_magic:], cap, (found[1].st_dev, found[1].st_ino))

    def close(self) -> None:
        """Let go of the folders held open for listing."""
        self._folders.close()

    def finished(self) -> None:
        """The bundle is written or given up (see contents.ContentsTree)."""

    def files(self, options, budget, images=None):
        """A reader of the planned files (sources.LocalFiles)."""
        return LocalFiles(self.real_root)

    def too_large(self, resolved: Resolved) -> bool:
        """Whether a file is over a limit of the store's own for one file (none on disk)."""
        return False

    def on_disk(self, rel: str) -> bool:
        """Whether ``rel`` is read from this disk (by this tree's rules)."""
        return True

    def storage_of(self, rel: str):
        """Which store keeps ``rel``, for mixed stores (contents.ContentsTree); None here."""
        return None

    def disk_root(self):
        """The real root when every file is on this disk, with an identity that ``fstat``
        can check (so the bundle can be sized in advance: sized.py); None for stores."""
        return self.real_root

    def _readable(self, real: str) -> bool:
        return _readable(real)

    # -- walking ------------------------------------------------------------------------

    def _entries(self, real_folder: str, key) -> list:
        """The entries of a real folder inside the root, read through a descriptor opened
        from the root without following links; none if it is not the folder ``key``
        (device, inode) names any more."""
        rel = os.path.relpath(real_folder, self.real_root)
        parts = [] if rel == os.curdir else rel.split(os.sep)
        if parts[:1] == [os.pardir]:
            return []
        try:
            fd = self._folders.folder(parts)
            if key is not None:
                info = os.fstat(fd)
                if (info.st_dev, info.st_ino) != key:
                    return []
            with os.scandir(fd) as listing:
                return sorted(listing, key=lambda entry: entry.name)
        except (OSError, ValueError):
            return []

    def _listing(self, real_folder: str, key=None) -> tuple[list, list]:
        """The visible entries of a real folder inside the root, listed once."""
        cached = self._listings.get(real_folder)
        if cached is not None:
            return cached
        self.check()
        files: list = []
        folders: list = []
        for entry in self._entries(real_folder, key):
            name = entry.name
            if not self.allow_hidden and name.startswith("."):
                continue
            path = os.path.join(real_folder, name)
            try:
                if entry.is_symlink():
                    target = self._link_target(path)
                    if target is not None:
                        files.append((name, *target))
                elif entry.is_dir(follow_symlinks=False):
                    info = entry.stat(follow_symlinks=False)
                    folders.append((name, path, (info.st_dev, info.st_ino)))
                elif entry.is_file(follow_symlinks=False):
                    info = entry.stat(follow_symlinks=False)
                    if _readable(path):
                        files.append((name, path, info))
            except OSError:
                continue
        self._listings[real_folder] = files, folders
        return files, folders

    def _link_target(self, link: str):
        """(real, stat) of a linked regular file that stays inside the root and in sight."""
        try:
            real = os.path.realpath(link)
            if not inside(real, self.real_root):
                return None
            if not self.allow_hidden and hidden(_relative_to(real, self.real_root)):
                return None
            info = os.stat(real)
        except (OSError, ValueError):
            return None
        if stat.S_ISREG(info.st_mode) and _readable(real):
            return real, info
        return None

    def _walk(self, real_top: str, cap: int | None, key=None) -> list:
        """Every regular file below a real folder, [(path below it, real, stat)]; only
        `cap` + 1 of them when there are more."""
        cached = self._below.get(real_top)
        if cached is not None:
            return cached
        found: list = []
        visited: set = set()
        stack = [(real_top, "", key)]
        while stack:
            real, below, folder_key = stack.pop()
            files, folders = self._listing(real, folder_key)
            for name, file_real, info in files:
                found.append((f"{below}{name}", file_real, info))
            if cap is not None and len(found) > cap:
                # A link to "." in a home folder must not walk the whole disk only to be
                # cut at the limit: enough is known already.
                del found[cap + 1 :]
                break
            # Reversed, so the stack takes them in name order; bind mounts can make cycles.
            for name, folder_real, sub_key in reversed(folders):
                if sub_key not in visited:
                    visited.add(sub_key)
                    stack.append((folder_real, f"{below}{name}/", sub_key))
        found.sort(key=lambda item: item[0])
        self._below[real_top] = found
        return found

    def _files_below(self, real_top: str, rel: str, cap: int | None, key=None) -> list[Resolved]:
        found = self._walk(real_top, cap, key)
        prefix = f"{rel}/" if rel else ""
        return [_resolved(real, prefix + below, info) for below, real, info in found]

    def _match(
        self, real_base: str, base: str, parts: list[str], cap: int | None, key=None
    ) -> list[Resolved]:
        """Files below `base` matching the glob components `parts`: the components are the
        states of a small automaton, so each folder is read once per set of states."""
        accept = len(parts)

        def closure(states):
            out = set(states)
            for i in sorted(out):
                while i < accept and parts[i] == "**":
                    i += 1
                    out.add(i)
            return frozenset(out)

        def step(states, name, folder):
            nxt = set()
            for i in states:
                if i == accept:
                    continue
                if parts[i] == "**":
                    if folder:
                        nxt.add(i)
                elif fnmatch.fnmatchcase(name, parts[i]):
                    nxt.add(i + 1)
            return closure(nxt)

        found: dict[str, Resolved] = {}
        done: set = set()
        stack = [(real_base, base, closure({0}), key)]
        while stack:
            real, rel, states, folder_key = stack.pop()
            if (real, states) in done:
                continue
            done.add((real, states))
            if accept in states:
                for item in self._files_below(real, rel, cap, folder_key):
                    found.setdefault(item.rel, item)
            else:
                files, folders = self._listing(real, folder_key)
                prefix = f"{rel}/" if rel else ""
                for name, file_real, info in files:
                    if accept in step(states, name, False):
                        found.setdefault(prefix + name, _resolved(file_real, prefix + name, info))
                for name, folder_real, sub_key in folders:
                    nxt = step(states, name, True)
                    if nxt:
                        stack.append((folder_real, prefix + name, nxt, sub_key))
            if cap is not None and len(found) > cap:
                break
        return [found[rel] for rel in sorted(found)]


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
    try:
        tree = Tree(root, allow_hidden=allow_hidden)
    except (OSError, ValueError):
        return Skip(skip_as, "missing")
    try:
        result = tree.resolve(notebook_dir, path, root_relative, written=written, cap=cap)
    finally:
        tree.close()
    return result if isinstance(result, Skip) else result[0]


def expand_glob(root: str, notebook_dir: str, pattern: str, *, allow_hidden: bool = False) -> list[Resolved]:
    """Files matching a metadata glob relative to the notebook's folder (see Tree.glob)."""
    try:
        tree = Tree(root, allow_hidden=allow_hidden)
    except (OSError, ValueError):
        return []
    try:
        return tree.glob(notebook_dir, pattern)
    finally:
        tree.close()


# --- helpers -----------------------------------------------------------------------------


def lexical(notebook_dir: str, path: str, root_relative: bool) -> str | None:
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


def inside(real: str, real_root: str) -> bool:
    """Whole-component containment: /x/nb holds /x/nb/a but not /x/nb_evil/a."""
    try:
        return os.path.commonpath([real, real_root]) == real_root
    except ValueError:
        return False


def _relative_to(real: str, real_root: str) -> str:
    rel = os.path.relpath(real, real_root)
    return "" if rel == os.curdir else rel.replace(os.sep, "/")


def hidden(rel: str) -> bool:
    return any(part.startswith(".") for part in rel.split("/") if part)


def _readable(real: str) -> bool:
    try:
        return os.access(real, os.R_OK)
    except (OSError, ValueError):
        return False
