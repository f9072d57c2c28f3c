"""Where a bundle's files come from when the server's contents manager does not keep
them on this disk (pgcontents, s3contents, any manager of the Contents API): the API
itself, walked by the same rules as the disk.

:class:`ContentsTree` is a ``paths.Tree`` whose folders are the manager's directory
listings: references are resolved lexically first (nothing above the root is ever asked
for), hidden names are left out by their components as well as by the manager's
``is_hidden`` (pgcontents and s3contents answer False for everything), globs and folder
references walk the listings, and a file exists only where a listing shows it. A mixed
manager (hybridcontents: a prefix per manager) has each path walked the way its own
manager allows: the prefixes served from this disk by a file manager go through the
disk's rules (``paths.Tree``: links, inodes), the others through the API.

:class:`fetch.ContentsFiles` reads the planned files one at a time with
``get(path, content=True, type="file", format="base64")``; the base64 text is decoded
in slices into a spool (memory for small files, a temporary file for large ones) and let
go at once, so at most one file's model is held. A file counts as present only if its
content came back (s3contents invents a model for a missing path). Sizes that listings
do not give (pgcontents) are learnt from the content and held to the limits then.

The manager is called from the bundle's worker thread: a synchronous one directly, an
asynchronous one on the server's event loop through ``run`` (see :func:`on_loop`).
Imports neither tornado nor notebook.
"""

import asyncio
import concurrent.futures
import datetime
import gc
import inspect
import logging
import posixpath
import stat
import time
from collections import namedtuple

from .fetch import Unreadable, trim
from .options import Cancelled, PlanTimeout
from .paths import Tree, inside
from .plan import OverLimit
from .sources import Changed, Missing

log = logging.getLogger("nbext_pkg")
# A path longer than this in a listing is not followed (no file system makes one).
_LONGEST_PATH = 4096
_Info = namedtuple("_Info", "st_mode st_size st_dev st_ino st_mtime_ns")
_DIRECTORY = _Info(stat.S_IFDIR, 0, 0, 0, 0)


class CallTimeout(Exception):
    """A manager's call took longer than a bundle lets one call take."""


def on_loop(loop, cancel, check=None, timeout=30.0):
    """``run(awaitable)`` for a worker thread: the awaitable runs on ``loop`` (as a task
    of its own, which ends with the call) and its result comes back. The task is
    cancelled, and the thread let go, when ``cancel`` is set (Cancelled), when ``check``
    raises (the plan's deadline), or after ``timeout`` seconds (CallTimeout)."""

    async def awaited(awaitable):
        return await awaitable

    def run(awaitable):
        future = asyncio.run_coroutine_threadsafe(awaited(awaitable), loop)
        given_up = time.monotonic() + timeout
        while True:
            try:
                return future.result(timeout=0.25)
            except concurrent.futures.TimeoutError:  # not the builtin before Python 3.11
                pass
            try:
                if cancel.is_set():
                    raise Cancelled()
                if check is not None:
                    check()
                if time.monotonic() > given_up:
                    raise CallTimeout(f"no answer in {timeout:g} s")
            except BaseException:
                future.cancel()
                raise

    return run


def _status(error):
    """The HTTP status a manager's error carries (tornado's HTTPError), or None."""
    status = getattr(error, "status_code", None)
    return status if isinstance(status, int) else None


class Store:
    """A contents manager, called from a worker thread."""

    def __init__(self, manager, run=None):
        self.manager = manager
        self.run = run
        self.name = type(manager).__name__

    def call(self, method, *args, **kwargs):
        result = getattr(self.manager, method)(*args, **kwargs)
        if inspect.isawaitable(result):
            if self.run is None:
                raise RuntimeError(f"{self.name}.{method} is asynchronous and no loop was given")
            result = self.run(result)
        return result

    def on_loop(self, method, *args, **kwargs):
        """The manager's ``method``, called on the event loop's thread itself (for what
        only that thread may do, such as the notary's signature checks)."""
        if self.run is None:
            return self.call(method, *args, **kwargs)

        async def there():
            result = getattr(self.manager, method)(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        return self.run(there())

    def get(self, path, **kwargs):
        """The manager's model, or Missing / Unreadable (with the manager's words)."""
        try:
            model = self.call("get", path, **kwargs)
        except (Cancelled, PlanTimeout):
            raise
        except Exception as error:
            status = _status(error)
            if status == 404:
                raise Missing(f"{path}: {self.name} has no such file") from None
            log.info("nbext_pkg: %s could not read %s: %r", self.name, path, error)
            raise Unreadable(f"{path}: {self.name} could not read it ({error})") from None
        if not isinstance(model, dict):
            raise Unreadable(f"{path}: {self.name} answered with no model")
        return model

    def release(self):
        """Give back what reading a large file left held: a database connection's buffer
        (libpq keeps a buffer as large as the largest row it has read, for as long as
        the connection lives in SQLAlchemy's pool: pgcontents' ``engine``), then the
        heap's free memory."""
        managers = [self.manager, *(getattr(self.manager, "managers", None) or {}).values()]
        for manager in managers:
            dispose = getattr(getattr(manager, "engine", None), "dispose", None)
            if callable(dispose):
                try:
                    dispose()  # idle connections closed; those in use live on
                except Exception as error:
                    log.info("nbext_pkg: could not release %s's connections: %r", self.name, error)
                # A pool's objects hold one another: a connection that was in use at the
                # dispose goes back to the old pool, closed only once the cycle is collected.
                gc.collect()
        trim()

    def is_hidden(self, path):
        try:
            return bool(self.call("is_hidden", path))
        except (Cancelled, PlanTimeout):
            raise
        except Exception:  # a manager that cannot say: hidden, so nothing leaks
            log.info("nbext_pkg: %s could not say whether %s is hidden; left out", self.name, path)
            return True


def mixed_routes(manager, local_root):
    """{prefix: root on disk or None} for a manager that hands paths to others by their
    first component (hybridcontents, pgcontents' HybridContentsManager): ``managers``,
    a dict of prefixes; ``""`` is the manager for every other path. None if ``manager``
    is not one. ``local_root(sub)`` is a sub-manager's folder on disk, or None."""
    managers = getattr(manager, "managers", None)
    if not isinstance(managers, dict) or not managers:
        return None
    routes = {}
    for prefix, sub in managers.items():
        if not isinstance(prefix, str) or "/" in prefix.strip("/") or not hasattr(sub, "get"):
            return None
        routes[prefix.strip("/")] = (local_root(sub), type(sub).__name__)
    return routes


def _mtime_ns(value):
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return 0
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        try:
            return int(value.timestamp() * 1e9)
        except (OverflowError, OSError, ValueError):
            return 0
    return 0


def _size(model):
    size = model.get("size")
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else -1


class ContentsTree(Tree):
    """The root as a contents manager's listings show it (see the module's docstring).
    "Real" paths of API entries are API paths (relative, "" is the root); those of the
    files a mixed manager keeps on this disk are absolute paths on the disk."""

    def __init__(
        self,
        store,
        *,
        allow_hidden=False,
        check=None,
        routes=None,
        file_limit=None,
        max_listings=20_000,
        reader=None,
    ):
        self.store = store
        self.reader = reader  # a Reader for the files, handed to the writer (ContentsFiles)
        self.file_limit = file_limit
        self.max_listings = max_listings
        self.real_root = ""
        self.allow_hidden = allow_hidden
        self.check = check or (lambda: None)
        self._listings = {}
        self._below = {}
        self._failed = {}  # API folder -> the reason its listing failed
        self._hidden = {}  # API folder -> the names in it the manager calls hidden
        # prefix -> (paths.Tree or None for the API, the sub-manager's class name)
        self.routes = {}
        for prefix, (root, name) in (routes or {}).items():
            tree = Tree(root, allow_hidden=allow_hidden, check=self.check) if root else None
            self.routes[prefix] = (tree, name)
        self._api_prefixes = {prefix for prefix, (tree, _) in self.routes.items() if prefix and tree is None}

    # -- where a path goes ---------------------------------------------------------------

    def route(self, rel):
        """(paths.Tree, the path below its root) when ``rel`` is kept on this disk, else None."""
        if not self.routes:
            return None
        first, _, rest = rel.partition("/")
        if first in self.routes and first:
            tree, _ = self.routes[first]
            return (tree, rest) if tree is not None else None
        if "" in self.routes:
            tree, _ = self.routes[""]
            return (tree, rel) if tree is not None else None
        return None

    def too_large(self, resolved):
        """Over the limit for a file read through the API, by the size its listing gave."""
        return (
            self.file_limit is not None
            and not resolved.real.startswith("/")
            and resolved.size > self.file_limit
        )

    def on_disk(self, rel):
        return self.route(rel) is not None

    def disk_root(self):
        """None: sizes and identities are the store's, so the bundle is not sized ahead."""
        return None

    def storage_of(self, rel):
        """The class name of the manager that keeps ``rel``, for a mixed manager (None
        otherwise: the manifest's ``storage`` says it once)."""
        if not self.routes:
            return None
        first = rel.partition("/")[0]
        key = first if first and first in self.routes else ""
        return self.routes.get(key, (None, self.store.name))[1]

    def _owner(self, real):
        """The disk tree (of a mixed manager) a real path on the disk belongs to."""
        best = None
        for tree, _ in self.routes.values():
            if tree is not None and inside(real, tree.real_root):
                if best is None or len(tree.real_root) > len(best.real_root):
                    best = tree
        return best

    # -- what paths.Tree asks ------------------------------------------------------------

    def locate(self, rel):
        route = self.route(rel)
        if route is not None:
            tree, below = route
            return tree.locate(below)
        parts = rel.split("/") if rel else []
        # The top of a prefix read through the API: a folder, whatever its parent shows.
        start = 1 if parts and parts[0] in self._api_prefixes else 0
        if start == len(parts):
            return rel, _DIRECTORY
        # Folder by folder from the top, through the listings: a folder the manager calls
        # hidden hides all below it, and a missing one ends the search with no more calls.
        parent = "/".join(parts[:start])
        for i in range(start, len(parts)):
            name, last = parts[i], i == len(parts) - 1
            files, folders = self._listing(parent)
            if name in self._hidden.get(parent, ()):
                return "hidden"
            if last:
                found = next(((real, info) for entry, real, info in files if entry == name), None)
                if found is not None:
                    return found
            real = next((real for entry, real, _ in folders if entry == name), None)
            if real is None:
                return self._failed.get(parent, "missing")
            if real.startswith("/"):  # a folder a mixed manager keeps on this disk
                owner = self._owner(real)
                inside_root = posixpath.relpath(real, owner.real_root)
                above = [] if inside_root == "." else inside_root.split("/")
                return owner.locate("/".join(above + parts[i + 1 :]))
            parent = real
        return parent, _DIRECTORY

    def _readable(self, real):
        if real.startswith("/"):
            return self._owner(real)._readable(real)
        return True

    def _listing(self, real, key=None):
        if real.startswith("/"):
            owner = self._owner(real)
            if owner is None:
                return [], []
            files, folders = owner._listing(real, key)
            if owner.real_root == real and self._prefixes_below(owner):
                folders = sorted(folders + self._prefixes_below(owner))
            return files, folders
        cached = self._listings.get(real)
        if cached is not None:
            return cached
        self.check()
        if len(self._listings) >= self.max_listings:
            # A store whose folders never end (a folder that lists itself) must not walk
            # until memory runs out.
            raise OverLimit(
                f"This bundle would list more than {self.max_listings} folders of "
                f"{self.store.name} (c.NbextPkg.max_bundle_files): link fewer or "
                "smaller folders."
            )
        files, folders, hidden = [], [], set()
        try:
            model = self.store.get(real, content=True, type="directory")
            entries = model.get("content")
            if not isinstance(entries, list):
                raise Unreadable(f"{real}: {self.store.name} gave no listing")
        except Changed as error:
            self._failed[real] = error.reason
            entries = []
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            name = entry.get("name") or posixpath.basename(str(entry.get("path") or ""))
            if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\x00" in name:
                continue
            if not self.allow_hidden and name.startswith("."):
                continue
            child = f"{real}/{name}" if real else name
            if len(child) > _LONGEST_PATH:
                continue
            if entry.get("type") == "directory":
                route = self.route(child)
                if route is not None:
                    found = route[0].locate(route[1])
                    if not isinstance(found, str) and stat.S_ISDIR(found[1].st_mode):
                        folders.append((name, found[0], (found[1].st_dev, found[1].st_ino)))
                    continue
                if not self.allow_hidden and self.store.is_hidden(child):
                    hidden.add(name)
                    continue
                folders.append((name, child, ("api", child)))
            elif entry.get("type") in ("file", "notebook"):
                if not self.allow_hidden and self.store.is_hidden(child):
                    hidden.add(name)
                    continue
                files.append(
                    (
                        name,
                        child,
                        _Info(stat.S_IFREG, _size(entry), 0, 0, _mtime_ns(entry.get("last_modified"))),
                    )
                )
        if real == "":  # the prefixes a mixed manager sends elsewhere, which it may not list
            shown = {name for name, _, _ in folders}
            folders += [
                (prefix, prefix, ("api", prefix))
                for prefix in self._api_prefixes
                if prefix not in shown and (self.allow_hidden or not prefix.startswith("."))
            ]
        files.sort()
        folders.sort()
        self._hidden[real] = hidden
        self._listings[real] = files, folders
        return files, folders

    def _prefixes_below(self, owner):
        """For a mixed manager whose root manager is on disk: the prefixes kept elsewhere,
        which its listing of the root does not show."""
        root = self.routes.get("", (None,))[0]
        if root is not owner:
            return []
        return [
            (prefix, prefix, ("api", prefix))
            for prefix, (tree, _) in self.routes.items()
            if prefix and tree is None and (self.allow_hidden or not prefix.startswith("."))
        ]

    def close(self):
        for tree, _ in self.routes.values():
            if tree is not None:
                tree.close()

    def finished(self):
        """The bundle is written or given up: its Reader, if no writer took it, ends."""
        if self.reader is not None:
            self.reader.done()
            self.reader = None

    def files(self, options, budget, images=None):
        """A reader of the planned files (fetch.ContentsFiles)."""
        from .fetch import ContentsFiles

        return ContentsFiles(self, options, budget, images)


class Nowhere:
    """The tree of a notebook that came without a place to read its files from (the
    server's nbconvert API given content only): every reference is skipped, saying so."""

    REASON = "not-looked-for"
    real_root = None

    def disk_root(self):
        return None

    def __init__(self):
        from .paths import Skip

        self._skip = Skip

    def check(self):
        pass

    def resolve(self, notebook_dir, path, root_relative, *, written=None, cap=None):
        return self._skip(written if written is not None else path, self.REASON)

    def glob(self, notebook_dir, pattern, *, cap=None):
        return self._skip(pattern, self.REASON)

    def close(self):
        pass

    def finished(self):
        pass
