"""The pre-flight plan of a bundle: which files go in, where, and whether the
whole stays within the limits, decided before the first byte is sent."""

import fnmatch
import os
import posixpath
from dataclasses import dataclass, field

from .paths import Skip, expand_glob, resolve
from .references import excludes, find_references

IMAGE_SUFFIXES = frozenset(".png .jpg .jpeg .gif .svg .webp .bmp".split())


class OverLimit(Exception):
    """The bundle would break a limit; the message says which, for a person."""


@dataclass
class Entry:
    rel: str        # path relative to the server root (as the link is placed)
    real: str       # the file actually read
    size: int
    arcname: str = ""  # path inside the bundle's top folder


@dataclass
class Plan:
    top: str
    notebook_arcname: str
    html_arcname: str
    files: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    files_note: str = None
    images: dict = field(default_factory=dict)  # decoded reference -> real path, for the HTML copy

    @property
    def total_bytes(self):
        return sum(entry.size for entry in self.files)


def _human(n):
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024


def _deepest_common_folder(paths):
    folders = [posixpath.dirname(p).split("/") if posixpath.dirname(p) else [] for p in paths]
    common = []
    for parts in zip(*folders):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return "/".join(common)


def make_plan(notebook, notebook_path, root, *, base_url="/", allow_hidden=False,
              max_bytes=2 * 1024**3, max_files=10_000, notebook_size=0, files_note=None):
    """Plan the bundle of ``notebook`` (a dict) at ``notebook_path`` (relative to
    ``root``). ``root`` None means the contents are not on this disk: the plan
    then holds no files and ``files_note`` says why. Raises OverLimit."""
    stem = posixpath.splitext(posixpath.basename(notebook_path))[0]
    plan = Plan(top=stem, notebook_arcname="", html_arcname="", files_note=files_note)
    if root is not None:
        _collect(plan, notebook, notebook_path, root, base_url, allow_hidden,
                 max_bytes - notebook_size, max_files)
    if notebook_size + plan.total_bytes > max_bytes:
        raise OverLimit(
            f"This bundle would hold {_human(notebook_size + plan.total_bytes)} of files, more than "
            f"the server's limit of {_human(max_bytes)} (c.NbextPkg.max_bundle_bytes)."
        )
    if len(plan.files) > max_files:
        raise OverLimit(
            f"This bundle would hold {len(plan.files)} files, more than the server's limit of "
            f"{max_files} (c.NbextPkg.max_bundle_files)."
        )
    common = _deepest_common_folder([notebook_path] + [e.rel for e in plan.files])
    inside = (lambda rel: posixpath.relpath(rel, common)) if common else (lambda rel: rel)
    for entry in plan.files:
        entry.arcname = inside(entry.rel)
    plan.notebook_arcname = inside(notebook_path)
    plan.html_arcname = posixpath.join(posixpath.dirname(plan.notebook_arcname), stem + ".html")
    return plan


def _collect(plan, notebook, notebook_path, root, base_url, allow_hidden, max_bytes, max_files):
    notebook_dir = posixpath.dirname(notebook_path)
    patterns = excludes(notebook)
    seen = {notebook_path}
    for ref in find_references(notebook, base_url=base_url):
        # Metadata includes, and associate lines written as globs (as the stock bundler allows).
        if ref.source == "include" or (ref.source == "associate" and any(c in ref.path for c in "*?[")):
            found, folder = expand_glob(root, notebook_dir, ref.path, allow_hidden=allow_hidden), True
            if not found:
                found = Skip(ref.written, "missing")
        else:
            found = resolve(root, notebook_dir, ref.path, ref.root_relative,
                            allow_hidden=allow_hidden, written=ref.written, cap=max_files + 1)
            base = "" if ref.root_relative else notebook_dir
            folder = not isinstance(found, Skip) and os.path.isdir(
                os.path.join(root, base, ref.path.lstrip("/")))
        if isinstance(found, Skip):
            plan.skipped.append({"reference": found.reference, "reason": found.reason})
            continue
        for resolved in found:
            if resolved.rel in seen:
                continue
            from_nb = posixpath.relpath(resolved.rel, notebook_dir or ".")
            if any(fnmatch.fnmatchcase(from_nb, pattern) for pattern in patterns):
                continue
            if folder and resolved.size > max_bytes:
                plan.skipped.append({"reference": resolved.rel, "reason": "too-large"})
                continue
            if folder and (plan.total_bytes + resolved.size > max_bytes
                           or len(plan.files) + 1 > max_files):
                # One entry for the reference (the folder or glob as written): the
                # rest of it stays out, however many files that is.
                plan.skipped.append({"reference": ref.written, "reason": "limit"})
                break
            seen.add(resolved.rel)
            plan.files.append(Entry(rel=resolved.rel, real=resolved.real, size=resolved.size))
            if ref.source in ("markdown", "html") and not folder and \
                    posixpath.splitext(resolved.rel)[1].lower() in IMAGE_SUFFIXES:
                plan.images[ref.path] = resolved.real
