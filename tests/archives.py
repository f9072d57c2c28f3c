"""Archives for the tests of the way back (extract.py and its parts): made by zipfile and
tarfile, in memory, and written where a test wants them."""

import hashlib
import io
import json
import tarfile
import warnings
import zipfile


def zip_bytes(*members, compression=zipfile.ZIP_DEFLATED):
    """members: (name or ZipInfo, data)."""
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", compression) as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a duplicate name is what some tests want
        for name, data in members:
            zf.writestr(name, data)
    return sink.getvalue()


def tar_member(name, data=b"", kind=tarfile.REGTYPE, **attrs):
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, len(data) if kind == tarfile.REGTYPE else 0
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def tar_bytes(*members, gz=False, fmt=tarfile.PAX_FORMAT):
    """members: (name, data) or (TarInfo, data)."""
    sink = io.BytesIO()
    with tarfile.open(fileobj=sink, mode="w:gz" if gz else "w", format=fmt) as tf:
        for name, data in members:
            info = name if isinstance(name, tarfile.TarInfo) else tar_member(name, data)[0]
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return sink.getvalue()


def archive_bytes(fmt, *members):
    """Plain (name, data) members in any of our formats."""
    return zip_bytes(*members) if fmt == "zip" else tar_bytes(*members, gz=fmt == "tar.gz")


def put(folder, name, data):
    path = folder / name
    path.write_bytes(data)
    return path


def hand_bundle(members, generated, top="nb"):
    """The members of a bundle of ours made by hand: ``members`` (rel, data), all listed,
    and the manifest; ``generated``: names that may be there unlisted, the manifest's among them."""
    files = [
        {"path": rel, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()} for rel, data in members
    ]
    doc = {
        "generator": {"name": "nbext_pkg", "version": "0"},
        "notebook": members[0][0],
        "files": files,
        "skipped": [],
        "generated": generated,
    }
    return [(f"{top}/{rel}", data) for rel, data in members] + [
        (f"{top}/{generated['manifest']}", json.dumps(doc).encode())
    ]


def place_folders(tmp_path):
    """(archive folder, parent to open into): kept apart so that parent starts empty."""
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    return tmp_path / "in", tmp_path / "out"
