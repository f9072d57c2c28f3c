"""Checking a bundle against its manifest: which MANIFEST*.json is ours, every difference
between the members and what it lists, and ``verify`` / ``audit``, which read an archive
through and write nothing."""

import dataclasses
import fnmatch
import json
import os
from dataclasses import dataclass

from . import members
from .open_rules import DEFAULT_LIMITS, Budget, Names, Refused, shown, too_many


def manifest_name(rel):
    return "/" not in rel and fnmatch.fnmatchcase(rel, "MANIFEST*.json")


def find_manifest(candidates):
    """(name, document) of our manifest among top-level MANIFEST*.json contents, or None.
    A user's own MANIFEST.json moves ours aside (plan.py), and may be one of ours from an
    earlier bundle: the bundle's manifest is the one no other lists among its files."""
    ours = {}
    for name, data in candidates.items():
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):  # not JSON we can read
            continue
        generator = doc.get("generator") if isinstance(doc, dict) else None
        if isinstance(generator, dict) and generator.get("name") == "nbext_pkg":
            ours[name] = doc
    listed = {
        entry["path"]
        for doc in ours.values()
        if isinstance(doc.get("files"), list)
        for entry in doc["files"]
        if isinstance(entry, dict) and isinstance(entry.get("path"), str)
    }
    unlisted = sorted(set(ours) - listed) or sorted(ours)
    if not unlisted:
        return None
    named = [
        n
        for n in unlisted
        if isinstance(ours[n].get("generated"), dict) and ours[n]["generated"].get("manifest") == n
    ]
    best = named or (["MANIFEST.json"] if "MANIFEST.json" in unlisted else unlisted)
    return best[0], ours[best[0]]


def compare(name, doc, hashed, excused=()):
    """Lines for people: every difference between the members (rel -> (size, sha256)) and
    the manifest. ``excused``: members left out on purpose, not missing."""
    problems, listed = [], set()
    files = doc.get("files")
    for entry in files if isinstance(files, list) else []:
        path = entry.get("path") if isinstance(entry, dict) else None
        if not (
            isinstance(path, str)
            and isinstance(entry.get("size"), int)
            and isinstance(entry.get("sha256"), str)
        ):
            problems.append(
                f"{name} holds an entry that is not a path, a size and a SHA-256: "
                f"{shown(json.dumps(entry, ensure_ascii=False))[:120]}."
            )
            continue
        listed.add(path)
        if path not in hashed:
            if path not in excused:
                problems.append(f"{shown(path)} is listed in {name} but missing from the archive.")
        elif hashed[path][0] != entry["size"]:
            problems.append(f"{shown(path)} has {hashed[path][0]} bytes where {name} lists {entry['size']}.")
        elif hashed[path][1] != entry["sha256"].lower():
            problems.append(f"{shown(path)} is not what {name} lists: its SHA-256 differs.")
    if not isinstance(files, list):
        problems.append(f"{name} has no list of files.")
    generated = doc.get("generated")
    allowed = listed | {
        v for v in (generated.values() if isinstance(generated, dict) else ()) if isinstance(v, str)
    }
    problems += [
        f"{shown(rel)} is in the archive but not listed in {name}."
        for rel in sorted(hashed)
        if rel not in allowed
    ]
    return problems


def summary(name, doc):
    generator, files = doc.get("generator") or {}, doc.get("files")
    return {
        "path": name,
        "version": generator.get("version"),
        "created": doc.get("created"),
        "notebook": doc.get("notebook"),
        "files": len(files) if isinstance(files, list) else 0,
        "skipped": doc.get("skipped") if isinstance(doc.get("skipped"), list) else [],
    }


@dataclass
class Audit:
    problems: list
    members: int


def verify(archive_path, limits=DEFAULT_LIMITS):
    """Problems of a bundle, without writing anything: [] when it is a good bundle of ours."""
    return audit(archive_path, limits).problems


def audit(archive_path, limits=DEFAULT_LIMITS):
    """verify(), and how many members were checked."""
    name = os.path.basename(archive_path)
    problems, hashed, candidates, parts_kinds, count = [], {}, {}, {}, 0
    everything = dataclasses.replace(limits, allow_hidden=True)  # a check leaves nothing out
    try:
        with members.open_checked(archive_path) as f:
            archive = members.open_archive(f, name, limits)
            names, budget = Names(), Budget(limits, archive.size)
            for member in members.each(archive):
                count += 1
                if count > limits.max_files:
                    raise too_many(limits)
                try:
                    parts, _ = members.judge(member, names, everything)
                except Refused as refused:
                    problems.append(refused.reason + ".")
                    continue
                if parts is None:
                    continue
                parts_kinds[parts] = member.kind
                if member.kind == "file":
                    keep = len(parts) <= 2 and manifest_name(parts[-1]) and members.room(candidates)
                    size, sha, data = members.stream(archive, member, budget, name, keep=keep)
                    hashed[parts] = (size, sha)
                    if data is not None:
                        candidates[parts] = data
    except OSError as error:
        return Audit(problems + [f"{name} could not be read ({error.strerror or error})."], count)
    except Refused as refused:
        return Audit(problems + [refused.reason + "."], count)
    top = members.common_top(parts_kinds) if parts_kinds else None
    rel = {parts: "/".join(members.inside(parts, top)) for parts in parts_kinds}
    found = find_manifest({rel[p]: data for p, data in candidates.items() if manifest_name(rel[p])})
    if found is None:
        problems.append(
            f"{name} holds no manifest made by nbext_pkg (MANIFEST.json), so there is "
            "nothing to check it against."
        )
    else:
        problems += compare(*found, {rel[p]: v for p, v in hashed.items()})
    return Audit(problems, count)
