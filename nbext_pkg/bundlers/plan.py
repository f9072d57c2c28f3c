"""The pre-flight plan of a bundle: which files go in, under which names, and whether the
whole stays within the limits, decided before the first byte is sent.

Member names are made safe here, once, for every extractor: no name holds ``..``, a
backslash, a leading ``/``, a drive letter, a NUL or another control character, nor a
component that Windows cannot create (``CON``, ``nul.txt``, a trailing dot or space);
names that are not UTF-8 get their undecodable bytes replaced; and no two members share
a name, not even in another case (``README`` and ``readme`` on a Mac or Windows). The
user's files keep their names; the generated HTML copy, requirements.txt and
MANIFEST.json move aside when theirs is taken.
"""

import fnmatch
import posixpath
import re
import unicodedata
from dataclasses import dataclass, field

from .paths import Skip, Tree
from .references import Reference, excludes, find_references, markdown_src, src_key

IMAGE_SUFFIXES = frozenset(".png .jpg .jpeg .gif .svg .webp .bmp".split())
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RESERVED = frozenset(
    "con prn aux nul conin$ conout$ com1 com2 com3 com4 com5 com6 com7 com8 "
    "com9 lpt1 lpt2 lpt3 lpt4 lpt5 lpt6 lpt7 lpt8 lpt9".split()
)


class OverLimit(Exception):
    """The bundle would break a limit; the message says which, for a person."""


@dataclass
class Member:
    """One of the user's files in the bundle."""

    rel: str  # path relative to the server root (as the link is placed)
    real: str  # the file actually read
    size: int  # -1: not known until it is read (see contents.py)
    dev: int = 0
    ino: int = 0
    mtime_ns: int = 0
    ctime_ns: int = 0  # 0: not known (a store's file)
    arcname: str = ""  # path inside the bundle's top folder
    original: str = None  # the name as on disk, where the member's name had to differ


@dataclass
class Plan:
    top: str
    notebook_arcname: str
    html_arcname: str = ""
    requirements_arcname: str = "requirements.txt"
    runtime_arcname: str = "runtime.txt"
    manifest_arcname: str = "MANIFEST.json"
    files: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    images: dict = field(default_factory=dict)  # decoded reference -> Member, for the HTML copy
    total_bytes: int = 0
    notebook_original: str = None
    by_rel: dict = field(default_factory=dict, repr=False)  # rel -> Member, of files

    def add(self, member):
        self.files.append(member)
        self.by_rel[member.rel] = member
        self.total_bytes += max(member.size, 0)


def human(n):
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024


def safe_part(part):
    """One path component as a member name may hold it."""
    fixed = part.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    fixed = _CONTROL.sub("_", fixed.replace("\\", "_").replace("/", "_"))
    if fixed in ("", ".", ".."):
        fixed = f"_{fixed}"
    if _DRIVE.match(fixed):
        fixed = f"{fixed[0]}_{fixed[2:]}"
    if fixed[-1] in ". ":
        fixed = f"{fixed[:-1]}_"
    if fixed.split(".")[0].rstrip(" ").lower() in _RESERVED:
        fixed = f"_{fixed}"
    return fixed


def safe_name(path):
    return "/".join(safe_part(part) for part in path.split("/"))


def as_written(name):
    """A name as the disk has it, printable in JSON (undecodable bytes as \\xNN)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _numbered(name, n):
    folder, base = posixpath.split(name)
    stem, ext = posixpath.splitext(base)
    return posixpath.join(folder, f"{stem} ({n}){ext}")


def _deepest_common_folder(paths):
    folders = [posixpath.dirname(p).split("/") if posixpath.dirname(p) else [] for p in paths]
    common = []
    for parts in zip(*folders):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return "/".join(common)


def make_plan(notebook, notebook_path, root, *, base_url="/", **limits):
    """Plan the bundle of ``notebook`` (a dict) at ``notebook_path``: its references
    found here, then ``plan_from``. (The server finds them in a child process.)"""
    return plan_from(
        find_references(notebook, base_url=base_url), excludes(notebook), notebook_path, root, **limits
    )


def plan_from(
    references,
    patterns,
    notebook_path,
    root,
    *,
    allow_hidden=False,
    max_bytes=2 * 1024**3,
    max_files=10_000,
    notebook_size=0,
    check=None,
):
    """Plan the bundle of the notebook at ``notebook_path`` (relative to ``root``: a
    folder, a paths.Tree, or anything with its ``resolve``, ``glob``, ``check`` and
    ``close``, such as contents.ContentsTree) from its ``references`` and exclude
    ``patterns``. ``check`` is called at every reference and folder (it raises to stop
    the plan). Files whose size is not known yet (-1) count for nothing here: the
    writer holds them to the limit. Raises OverLimit."""
    stem = posixpath.splitext(posixpath.basename(notebook_path))[0] or "notebook"
    plan = Plan(top=safe_part(stem), notebook_arcname="")
    tree = root if hasattr(root, "resolve") else Tree(root, allow_hidden=allow_hidden, check=check)
    try:
        _collect(plan, references, patterns, notebook_path, tree, max_bytes - notebook_size, max_files)
    finally:
        if tree is not root:
            tree.close()
    if notebook_size + plan.total_bytes > max_bytes:
        raise OverLimit(
            f"This bundle would hold {human(notebook_size + plan.total_bytes)} of files, more than "
            f"the server's limit of {human(max_bytes)} (c.NbextPkg.max_bundle_bytes)."
        )
    if len(plan.files) > max_files:
        raise OverLimit(
            f"This bundle would hold {len(plan.files)} files, more than the server's limit of "
            f"{max_files} (c.NbextPkg.max_bundle_files)."
        )
    _name_members(plan, notebook_path, stem)
    return plan


@dataclass
class TickedNotebook:
    """A notebook ticked in a selection: its member, what the child read of it, and where
    its HTML copy goes."""

    member: Member
    facts: dict
    html_arcname: str = ""
    images: dict = field(default_factory=dict)


def _kind(found):
    import stat as stat_mod

    if isinstance(found, str):
        return None
    if stat_mod.S_ISDIR(found[1].st_mode):
        return "folder"
    return "file"


def plan_selection(folder, ticks, tree, *, max_bytes, max_files, notebooks, top):
    """Plan the bundle of ``ticks`` (References, one per ticked name of ``folder``, which
    is root-relative): each as a notebook's reference from that folder would be, a folder
    with all below it within the limits; every ticked notebook's own references followed
    from the same folder (``notebooks(member)`` gives its facts, as the child read them).
    ``top(kinds)`` names the bundle from {name: "file" | "folder"}. (Plan, kinds);
    OverLimit past the limits. The plan's ``notebooks`` are TickedNotebooks."""
    plan = Plan(top="", notebook_arcname="")
    plan.folder, plan.notebooks = folder, []
    seen = set()
    kinds = {ref.path: _kind(tree.locate(posixpath.join(folder, ref.path))) for ref in ticks}
    _collect(plan, ticks, [], posixpath.join(folder, ""), tree, max_bytes, max_files, seen)
    ticked = {
        posixpath.join(folder, ref.path)  # (in the root, folder is "": the name itself)
        for ref in ticks
        if kinds.get(ref.path) == "file" and ref.path.lower().endswith(".ipynb")
    }
    for member in [m for m in plan.files if m.rel in ticked]:
        facts = notebooks(member)
        if facts is None:  # not readable as a notebook: it stays a file of the selection
            continue
        plan.notebooks.append(TickedNotebook(member, facts))
        references = [Reference(*ref) for ref in facts["references"]]
        _collect(plan, references, facts["excludes"], member.rel, tree, max_bytes, max_files, seen)
        if facts.get("more_references"):
            plan.skipped.append(
                {
                    "reference": f"{facts['more_references']} more references of {as_written(member.rel)}",
                    "reason": "limit",
                }
            )
    if plan.total_bytes > max_bytes:
        raise OverLimit(
            f"This bundle would hold {human(plan.total_bytes)} of files, more than the server's "
            f"limit of {human(max_bytes)} (c.NbextPkg.max_bundle_bytes)."
        )
    if len(plan.files) > max_files:
        raise OverLimit(
            f"This bundle would hold {len(plan.files)} files, more than the server's limit of "
            f"{max_files} (c.NbextPkg.max_bundle_files)."
        )
    plan.top = safe_part(top(kinds))
    only_folder = len(ticks) == 1 and kinds.get(ticks[0].path) == "folder"
    anchor = (
        posixpath.join(folder, ticks[0].path)
        if only_folder and folder
        else (ticks[0].path if only_folder else folder)
    )
    copies = _name_members(plan, None, None, anchor=anchor, html_beside=[t.member for t in plan.notebooks])
    for ticked_nb in plan.notebooks:
        ticked_nb.html_arcname = copies[ticked_nb.member.rel]
        ticked_nb.images = plan.images
    return plan, kinds


def _key(name):
    """Names that one extractor or another takes for the same: any case, NFC or NFD."""
    return unicodedata.normalize("NFC", name).casefold()


def _name_members(plan, notebook_path, stem, anchor=None, html_beside=()):
    """Name every member below the deepest folder they share (no deeper than ``anchor``'s
    folder, when given), the user's names first; then the generated ones: the notebook's
    HTML copy (or one beside each of ``html_beside``, for a selection; returned as
    {rel: arcname}), requirements.txt, runtime.txt and the manifest."""
    paths = ([notebook_path] if notebook_path else []) + [m.rel for m in plan.files]
    if anchor is not None:
        paths.append(posixpath.join(anchor, "\x00"))
    common = _deepest_common_folder(paths)
    inside = (lambda rel: posixpath.relpath(rel, common)) if common else (lambda rel: rel)
    wanted = ([(None, inside(notebook_path))] if notebook_path else []) + [
        (m, inside(m.rel)) for m in plan.files
    ]
    # The folders the members make are taken too: a file "Data" beside a folder "data"
    # would land on the same spot on a Mac or Windows.
    taken = {_key(folder) for _, name in wanted for folder in _folders(safe_name(name))}

    def claim(wanted, numbered=_numbered):
        name, n = wanted, 1
        while _key(name) in taken:
            n += 1
            name = numbered(wanted, n)
        taken.add(_key(name))
        return name

    def settle(member, name, arcname):
        original = as_written(name) if arcname != name else None
        if member is None:
            plan.notebook_arcname, plan.notebook_original = arcname, original
        else:
            member.arcname, member.original = arcname, original

    # The user's names that need no change, and meet no other, are claimed first, so that
    # no renamed file takes one of them; the rest are numbered after.
    later = []
    for member, name in wanted:
        if safe_name(name) == name and _key(name) not in taken:
            taken.add(_key(name))
            settle(member, name, name)
        else:
            later.append((member, name))
    for member, name in later:
        settle(member, name, claim(safe_name(name)))
    plan.files.sort(key=lambda m: m.rel)

    def aside(wanted, n):
        stem_, ext = posixpath.splitext(wanted)
        return f"{stem_}.nbext_pkg{ext}" if n == 2 else f"{stem_}.nbext_pkg-{n - 1}{ext}"

    copies = {}
    if notebook_path:
        folder = posixpath.dirname(plan.notebook_arcname)
        plan.html_arcname = claim(posixpath.join(folder, safe_part(stem) + ".html"), aside)
    for member in html_beside:
        copies[member.rel] = claim(posixpath.splitext(member.arcname)[0] + ".html", aside)
    plan.requirements_arcname = claim("requirements.txt", aside)
    plan.runtime_arcname = claim("runtime.txt", aside)
    plan.manifest_arcname = claim("MANIFEST.json", aside)
    return copies


def _folders(name):
    parts = name.split("/")[:-1]
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def image_key(ref):
    """The key by which the HTML copy's ``<img src>`` finds this reference's image."""
    return src_key(markdown_src(ref.written) if ref.source == "markdown" else ref.written)


def _collect(plan, references, patterns, notebook_path, tree, max_bytes, max_files, seen=None):
    notebook_dir = posixpath.dirname(notebook_path)
    seen = {notebook_path} if seen is None else seen
    for ref in references:
        tree.check()
        # Metadata includes, and associate lines written as globs (as the stock bundler allows).
        if ref.source == "include" or (ref.source == "associate" and any(c in ref.path for c in "*?[")):
            found, folder = tree.glob(notebook_dir, ref.path, cap=max_files + 1), True
            if isinstance(found, Skip):
                found = Skip(ref.written, found.reason)
            elif not found:
                found = Skip(ref.written, "missing")
        else:
            found = tree.resolve(
                notebook_dir, ref.path, ref.root_relative, written=ref.written, cap=max_files + 1
            )
            if not isinstance(found, Skip):
                found, folder = found
        if isinstance(found, Skip):
            plan.skipped.append({"reference": found.reference, "reason": found.reason})
            continue
        for resolved in found:
            if resolved.rel in seen:
                # Already in (a selection's ticked folder, say): still the image this reference shows.
                known = plan.by_rel.get(resolved.rel)
                if (
                    known is not None
                    and ref.source in ("markdown", "html")
                    and not folder
                    and posixpath.splitext(resolved.rel)[1].lower() in IMAGE_SUFFIXES
                ):
                    plan.images.setdefault(image_key(ref), known)
                continue
            if patterns:
                from_nb = posixpath.relpath(resolved.rel, notebook_dir or ".")
                if any(fnmatch.fnmatchcase(from_nb, pattern) for pattern in patterns):
                    continue
            if tree.too_large(resolved):  # a store's own limit for one file (contents.py)
                plan.skipped.append(
                    {"reference": as_written(resolved.rel) if folder else ref.written, "reason": "too-large"}
                )
                continue
            if folder and resolved.size > max_bytes:
                plan.skipped.append({"reference": as_written(resolved.rel), "reason": "too-large"})
                continue
            if folder and (
                plan.total_bytes + max(resolved.size, 0) > max_bytes or len(plan.files) + 1 > max_files
            ):
                # One entry for the reference (the folder or glob as written): the
                # rest of it stays out, however many files that is.
                plan.skipped.append({"reference": ref.written, "reason": "limit"})
                break
            seen.add(resolved.rel)
            member = Member(
                rel=resolved.rel,
                real=resolved.real,
                size=resolved.size,
                dev=resolved.dev,
                ino=resolved.ino,
                mtime_ns=resolved.mtime_ns,
                ctime_ns=resolved.ctime_ns,
            )
            plan.add(member)
            if (
                ref.source in ("markdown", "html")
                and not folder
                and posixpath.splitext(resolved.rel)[1].lower() in IMAGE_SUFFIXES
            ):
                plan.images.setdefault(image_key(ref), member)
