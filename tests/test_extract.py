"""bundlers/extract.py: every hostile archive is made here, by zipfile and tarfile or by
hand where they will not write such a thing, and refused with nothing left behind; real
bundles open into a new folder, checked against their manifests."""

import errno
import gzip
import io
import json
import os
import socket
import stat
import struct
import subprocess
import sys
import tarfile
import threading
import zipfile

import nbformat
import pytest
from archives import archive_bytes, hand_bundle, put, tar_bytes, tar_member, zip_bytes
from traitlets.config import Config

from nbext_pkg.bundlers import extract, folders, members, pipeline
from nbext_pkg.bundlers import options as options_mod
from nbext_pkg.bundlers.extract import Cancelled, Limits, OpenFailed, Refused
from nbext_pkg.config import NbextPkg

FORMATS = ("zip", "tar", "tar.gz")


@pytest.fixture
def place(tmp_path):
    """(archive folder, parent to open into): kept apart so that parent starts empty."""
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    return tmp_path / "in", tmp_path / "out"


def snapshot(folder):
    return sorted(
        (str(p.relative_to(folder)), p.is_dir(), p.read_bytes() if p.is_file() else None)
        for p in folder.rglob("*")
    )


def refused(archive, parent, match, limits=extract.DEFAULT_LIMITS, error=Refused, **kwargs):
    """Extraction fails with ``match`` in the sentence, and ``parent`` is as it was."""
    before = snapshot(parent)
    with pytest.raises(error, match=match) as raised:
        extract.extract(str(archive), str(parent), limits=limits, **kwargs)
    assert snapshot(parent) == before
    return str(raised.value)


# -- real bundles of ours --------------------------------------------------------


def make_bundle(tmp_path, fmt, extra_files=None):
    """A bundle made by the pipeline, of a notebook that links data/x.csv and ``extra_files``
    (name -> text)."""
    extra_files = extra_files or {}
    root = tmp_path / "root"
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "data" / "x.csv").write_text("a,b\n1,2\n")
    for name, text in extra_files.items():
        (root / name).write_text(text)
    links = " ".join(f"[f]({name})" for name in ("data/x.csv", *extra_files))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(links)])
    nbformat.write(nb, str(root / "nb.ipynb"))
    options = options_mod.Options()
    sink = io.BytesIO()
    pipeline.prepare(
        "nb.ipynb",
        options,
        tree=pipeline.local_tree(str(root), options),
        asked={"format": fmt, "html": False, "requirements": True},
    ).write(sink)
    path = tmp_path / "in" / f"nb.{fmt}"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(sink.getvalue())
    return path


def read_members(path, fmt):
    if fmt == "zip":
        with zipfile.ZipFile(path) as zf:
            return [(n, zf.read(n)) for n in zf.namelist()]
    with tarfile.open(path) as tf:
        return [(m.name, tf.extractfile(m).read()) for m in tf.getmembers() if m.isreg()]


def rewrite(path, fmt, change=None, drop=(), add=()):
    members = [(n, change.get(n, d) if change else d) for n, d in read_members(path, fmt) if n not in drop]
    path.write_bytes(archive_bytes(fmt, *members, *add))


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_bundle_of_ours_opens_whole_and_matches_its_manifest(tmp_path, place, fmt):
    path = make_bundle(tmp_path, fmt)
    members = dict(read_members(path, fmt))
    opened = extract.extract(str(path), str(place[1]))
    assert opened.folder == str(place[1] / "nb") and opened.name == "nb"
    # The bundle's top folder is not repeated inside the new one.
    assert {"MANIFEST.json", "data", "nb.ipynb", "requirements.txt"} <= set(os.listdir(opened.folder))
    on_disk = {
        str(p.relative_to(opened.folder)): p.read_bytes() for p in (place[1] / "nb").rglob("*") if p.is_file()
    }
    assert on_disk == {name[len("nb/") :]: data for name, data in members.items()}
    assert opened.notebooks == ["nb.ipynb"] and opened.files == len(members) and opened.left_out == []
    assert opened.mismatches == []
    listed = json.loads(members["nb/MANIFEST.json"])["files"]
    assert opened.manifest["path"] == "MANIFEST.json" and opened.manifest["files"] == len(listed)
    assert opened.bytes == sum(p.stat().st_size for p in (place[1] / "nb").rglob("*") if p.is_file())
    assert extract.verify(str(path)) == []
    assert os.listdir(place[1]) == ["nb"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_member_changed_in_place_is_a_mismatch_that_is_reported_not_accepted(tmp_path, place, fmt):
    path = make_bundle(tmp_path, fmt)
    rewrite(path, fmt, change={"nb/data/x.csv": b"a,b\n6,6\n"})  # the same size
    opened = extract.extract(str(path), str(place[1]))
    line = "data/x.csv is not what MANIFEST.json lists: its SHA-256 differs."
    assert opened.mismatches == [line]
    assert (place[1] / "nb" / "data" / "x.csv").read_bytes() == b"a,b\n6,6\n"  # opened, and listed
    assert extract.verify(str(path)) == [line]


def test_a_resized_member_says_both_sizes(tmp_path, place):
    path = make_bundle(tmp_path, "zip")
    rewrite(path, "zip", change={"nb/data/x.csv": b"a,b\n"})
    assert extract.extract(str(path), str(place[1])).mismatches == [
        "data/x.csv has 4 bytes where MANIFEST.json lists 8."
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_missing_member_and_an_extra_one_are_mismatches(tmp_path, place, fmt):
    path = make_bundle(tmp_path, fmt)
    rewrite(path, fmt, drop={"nb/data/x.csv"}, add=[("nb/extra.txt", b"slipped in")])
    expected = [
        "data/x.csv is listed in MANIFEST.json but missing from the archive.",
        "extra.txt is in the archive but not listed in MANIFEST.json.",
    ]
    assert extract.extract(str(path), str(place[1])).mismatches == expected
    assert extract.verify(str(path)) == expected


def test_our_manifest_moved_aside_by_a_users_own_is_still_found(tmp_path, place):
    # The user's MANIFEST.json is itself one of ours (from a bundle opened earlier), which
    # lists files this bundle does not hold: it must not be taken for this bundle's.
    old = json.dumps(
        {
            "generator": {"name": "nbext_pkg", "version": "0"},
            "skipped": [],
            "files": [{"path": "gone.txt", "size": 1, "sha256": "0" * 64}],
            "generated": {"manifest": "MANIFEST.json"},
        }
    )
    path = make_bundle(tmp_path, "zip", extra_files={"MANIFEST.json": old})
    with zipfile.ZipFile(path) as zf:
        assert "nb/MANIFEST.nbext_pkg.json" in zf.namelist()
    opened = extract.extract(str(path), str(place[1]))
    assert opened.manifest["path"] == "MANIFEST.nbext_pkg.json" and opened.mismatches == []
    assert (place[1] / "nb" / "MANIFEST.json").read_text() == old
    assert extract.verify(str(path)) == []


def test_every_generated_name_may_be_there_unlisted(place):
    members = hand_bundle([("nb.ipynb", b"{}")], {"manifest": "MANIFEST.json", "runtime": "runtime.txt"})
    archive = put(place[0], "nb.zip", zip_bytes(*members, ("nb/runtime.txt", b"python-3.11\n")))
    assert extract.verify(str(archive)) == []
    assert extract.extract(str(archive), str(place[1])).mismatches == []
    archive = put(place[0], "other.zip", zip_bytes(*members, ("nb/runtime2.txt", b"python-3.11\n")))
    assert extract.verify(str(archive)) == ["runtime2.txt is in the archive but not listed in MANIFEST.json."]


def test_an_archive_not_of_ours_opens_without_a_manifest_and_verify_says_so(place):
    theirs = b'{"generator": {"name": "another-tool"}, "files": []}'
    archive = put(
        place[0], "photos.zip", zip_bytes(("a.txt", b"a"), ("b/c.txt", b"c"), ("MANIFEST.json", theirs))
    )
    opened = extract.extract(str(archive), str(place[1]))
    assert opened.manifest is None and opened.mismatches == [] and opened.notebooks == []
    assert sorted(os.listdir(opened.folder)) == ["MANIFEST.json", "a.txt", "b"]  # nothing stripped
    assert extract.verify(str(archive)) == [
        "photos.zip holds no manifest made by nbext_pkg (MANIFEST.json), so there is nothing to check "
        "it against."
    ]


# -- names that leave the folder, and kinds that are not files ----------------------

CLIMBERS = [
    ("../../etc/passwd", "climbs out of the folder it would be opened into"),
    ("a/../../x", "climbs out of the folder it would be opened into"),
    ("..\\..\\x", "climbs out of the folder it would be opened into"),
    ("/etc/passwd", "has an absolute path"),
    ("\\\\server\\share\\x", "has an absolute path"),
    ("C:\\x", "starts with a drive letter"),
    ("c:x", "starts with a drive letter"),
    ("a/" + "n" * 256, "has a name longer than disks allow"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name, rule", CLIMBERS)
def test_names_that_would_leave_the_folder_are_refused(place, fmt, name, rule):
    archive = put(place[0], f"a.{fmt}", archive_bytes(fmt, ("a/ok.txt", b"ok"), (name, b"evil")))
    message = refused(archive, place[1], rule)
    assert (
        message
        == f"The archive's member {name} {rule}"
        + (" (255 bytes)" if "longer" in rule else "")
        + ", so nothing was opened."
    )


def test_a_name_that_climbs_and_comes_back_stays_inside(place):
    archive = put(place[0], "a.zip", zip_bytes(("a/../b.txt", b"b"), ("c.txt", b"c")))
    assert sorted(os.listdir(extract.extract(str(archive), str(place[1])).folder)) == ["b.txt", "c.txt"]


def test_a_nul_byte_in_a_zip_name_is_refused(place):
    info = zipfile.ZipInfo("a.txt")
    info.filename = "a.txt\x00.png"  # zipfile cuts the name at the NUL when it reads it
    archive = put(place[0], "a.zip", zip_bytes((info, b"x")))
    refused(archive, place[1], r"member a\.txt\\x00\.png has a NUL byte in its name")


def test_a_nul_byte_in_a_tar_name_is_refused(place):
    info, _ = tar_member("plain.txt", b"x")
    info.pax_headers = {"path": "a\x00b"}
    archive = put(place[0], "a.tar", tar_bytes((info, b"x")))
    refused(archive, place[1], r"member a\\x00b has a NUL byte")


TAR_KINDS = [
    (dict(kind=tarfile.SYMTYPE, linkname="/etc/passwd"), "is a symbolic link"),
    (dict(kind=tarfile.LNKTYPE, linkname="a/ok.txt"), "is a hard link"),
    (dict(kind=tarfile.CHRTYPE, devmajor=1, devminor=3), "is a character device"),
    (dict(kind=tarfile.BLKTYPE, devmajor=8, devminor=0), "is a block device"),
    (dict(kind=tarfile.FIFOTYPE), r"is a FIFO \(named pipe\)"),
    (dict(kind=b"Z"), "is of tar type b'Z'"),
]


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("attrs, kind", TAR_KINDS)
def test_tar_members_that_are_not_files_or_folders_are_refused(place, gz, attrs, kind):
    hostile = tar_member("a/thing", **attrs)
    archive = put(place[0], "a.tar.gz" if gz else "a.tar", tar_bytes(("a/ok.txt", b"ok"), hostile, gz=gz))
    refused(archive, place[1], f"member a/thing {kind}, and only files and folders are opened")


@pytest.mark.parametrize(
    "mode, kind",
    [
        (stat.S_IFLNK, "is a symbolic link"),
        (stat.S_IFCHR, "is a character device"),
        (stat.S_IFIFO, r"is a FIFO"),
    ],
)
def test_zip_members_whose_mode_says_link_or_device_are_refused(place, mode, kind):
    info = zipfile.ZipInfo("a/link")
    info.external_attr = (mode | 0o777) << 16
    archive = put(place[0], "a.zip", zip_bytes(("a/ok.txt", b"ok"), (info, b"/etc/passwd")))
    refused(archive, place[1], f"member a/link {kind}")


def patch_flag(data, bits):
    """Set general-purpose flag bits in every local and central header, as zipfile never would."""
    data = bytearray(data)
    for signature, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = data.find(signature)
        while start >= 0:
            flags = struct.unpack_from("<H", data, start + at)[0]
            struct.pack_into("<H", data, start + at, flags | bits)
            start = data.find(signature, start + 4)
    return bytes(data)


def test_an_encrypted_zip_is_refused(place):
    archive = put(place[0], "a.zip", patch_flag(zip_bytes(("a/secret.txt", b"x" * 100)), 0x1))
    refused(archive, place[1], "member a/secret.txt is encrypted")


def test_a_compression_zipfile_reads_without_a_bound_is_refused(place):
    archive = put(place[0], "a.zip", zip_bytes(("a/x.txt", b"x" * 100), compression=zipfile.ZIP_BZIP2))
    refused(archive, place[1], "member a/x.txt uses bzip2 compression, which cannot be opened here")


def test_not_an_archive_by_content_whatever_its_name(place):
    refused(
        put(place[0], "a.zip", b"<html>not a zip</html>"),
        place[1],
        r"^a\.zip is not a zip, tar or tar\.gz archive, so nothing was opened\.$",
    )
    refused(
        put(place[0], "b.tar.gz", gzip.compress(b"plain text, gzipped" * 50)),
        place[1],
        "b.tar.gz is gzip-compressed but holds no tar archive",
    )
    # And the other way round: a zip by any name opens as one.
    opened = extract.extract(str(put(place[0], "c.tar", zip_bytes(("x.txt", b"x")))), str(place[1]))
    assert os.listdir(opened.folder) == ["x.txt"] and opened.name == "c"


def test_a_damaged_archive_is_refused(place):
    whole = tar_bytes(("a/x.bin", os.urandom(200_000)), gz=True)
    refused(put(place[0], "a.tar.gz", whole[: len(whole) // 2]), place[1], "a.tar.gz is damaged or cut short")


# -- names that meet on disk ------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "first, second, words",
    [
        ("a/Foo.txt", "a/foo.TXT", "differ only in case or Unicode form"),
        ("a/caf\u00e9.txt", "a/cafe\u0301.txt", "differ only in case or Unicode form"),
        ("a/Data/x.txt", "a/data/y.txt", "differ only in case or Unicode form"),
        ("a/b", "a/b/c", "need a/b to be both a file and a folder"),
        ("a/b/c", "a/b", "need a/b to be both a file and a folder"),
        ("a/x.txt", "a/x.txt", "holds the member a/x.txt twice"),
    ],
)
def test_names_that_meet_on_disk_are_refused(place, fmt, first, second, words):
    archive = put(place[0], f"a.{fmt}", archive_bytes(fmt, (first, b"1"), (second, b"2")))
    refused(archive, place[1], words)


# -- limits ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_more_members_than_allowed_are_refused(place, fmt, monkeypatch):
    four = [(f"a/{i}.txt", b"x") for i in range(4)]
    archive = put(place[0], f"a.{fmt}", archive_bytes(fmt, *four))
    with monkeypatch.context() as patched:
        # A zip is counted from its end record, before zipfile reads the whole list.
        patched.setattr(members.zipfile, "ZipFile", None)
        if fmt == "zip":
            refused(archive, place[1], "more members than", Limits(max_files=3))
    message = refused(
        archive, place[1], "more members than NbextPkg.open_max_files allows", Limits(max_files=3)
    )
    assert message.endswith("(3), so nothing was opened.")
    assert extract.extract(str(archive), str(place[1]), limits=Limits(max_files=4)).files == 4


def test_a_zip64_end_record_is_counted_too(place, monkeypatch):
    archive = put(place[0], "a.zip", zip_bytes(*[(str(i), b"") for i in range(0x10000)]))
    monkeypatch.setattr(members.zipfile, "ZipFile", None)  # refused before zipfile reads the list
    refused(
        archive,
        place[1],
        r"more members than NbextPkg.open_max_files allows \(65535\)",
        Limits(max_files=0xFFFF),
    )


def test_a_zip_whose_list_of_members_is_too_long_is_refused_before_it_is_read(place):
    data = bytearray(zip_bytes(*[(f"{i:04d}" * 150, b"") for i in range(2500)]))  # 1.6 MB of list
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 1, 1)  # the end record lies: one member
    refused(put(place[0], "a.zip", bytes(data)), place[1], "list of members takes", Limits(max_files=1))


@pytest.mark.parametrize("fmt", FORMATS)
def test_more_bytes_than_allowed_are_refused(place, fmt):
    archive = put(place[0], f"a.{fmt}", archive_bytes(fmt, ("a/1", b"1" * 600), ("a/2", b"2" * 600)))
    refused(
        archive,
        place[1],
        r"holds more than 1000 bytes once opened, more than NbextPkg.open_max_bytes",
        Limits(max_bytes=1000),
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_bytes_are_counted_as_written_not_as_declared(place, fmt, monkeypatch):
    monkeypatch.setattr(members, "declared", lambda member: 0)  # an archive that lies, believed
    archive = put(place[0], f"a.{fmt}", archive_bytes(fmt, ("a/1", b"1" * 600), ("a/2", b"2" * 600)))
    refused(archive, place[1], "holds more than 1000 bytes", Limits(max_bytes=1000))


def test_a_zip_that_lies_about_a_size_is_refused(place):
    content = os.urandom(300_000)
    data = bytearray(zip_bytes(("a/x.bin", content)))
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 1000)  # uncompressed size in the central directory
    struct.pack_into("<I", data, 22, 1000)  # and in the local header
    refused(put(place[0], "a.zip", bytes(data)), place[1], "a.zip is damaged or cut short")


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_a_compression_bomb_is_refused_by_its_ratio(place, fmt):
    archive = put(place[0], f"bomb.{fmt}", archive_bytes(fmt, ("a/zeros", bytes(40 * 1024**2))))
    assert archive.stat().st_size < 200_000
    refused(archive, place[1], r"grows more than 200 times its size when opened \(a compression bomb\?\)")


def test_a_small_very_compressible_archive_opens(place):
    archive = put(place[0], "small.zip", zip_bytes(("a/zeros", bytes(8 * 1024**2))))
    assert 8 * 1024**2 / archive.stat().st_size > 200
    assert extract.extract(str(archive), str(place[1])).bytes == 8 * 1024**2


def test_a_huge_tar_header_is_refused_before_it_is_read_whole(place):
    info, _ = tar_member("a/x.txt", b"x")
    info.pax_headers = {"comment": "c" * (5 * 1024**2)}
    refused(put(place[0], "a.tar", tar_bytes((info, b"x"))), place[1], "a header too large to read")


def test_limits_come_from_the_server_settings():
    settings = NbextPkg(config=Config({"NbextPkg": {"open_max_files": 5, "open_max_ratio": 10.0}}))
    assert extract.limits_from(settings, allow_hidden=True) == Limits(
        max_files=5, max_bytes=4 * 1024**3, max_ratio=10.0, allow_hidden=True
    )
    assert extract.limits_from(NbextPkg()) == Limits()


# -- hidden members ------------------------------------------------------------------


def test_hidden_members_are_left_out_and_reported_unless_allowed(place):
    archive = put(
        place[0],
        "a.zip",
        zip_bytes(("a/ok.txt", b"ok"), ("a/.env", b"SECRET=1"), ("a/.git/config", b"[core]")),
    )
    opened = extract.extract(str(archive), str(place[1]))
    assert opened.left_out == [("a/.env", "hidden"), ("a/.git/config", "hidden")]
    assert os.listdir(opened.folder) == ["ok.txt"] and opened.files == 1
    opened = extract.extract(str(archive), str(place[1]), limits=Limits(allow_hidden=True))
    assert opened.left_out == [] and sorted(os.listdir(opened.folder)) == [".env", ".git", "ok.txt"]


def test_a_hidden_member_left_out_is_not_missing_from_the_manifest(place):
    members = hand_bundle([("nb.ipynb", b"{}"), (".env", b"X=1")], {"manifest": "MANIFEST.json"})
    opened = extract.extract(str(put(place[0], "nb.zip", zip_bytes(*members))), str(place[1]))
    assert opened.left_out == [("nb/.env", "hidden")] and opened.mismatches == []


# -- where it lands, and what a failure leaves --------------------------------------


@pytest.mark.parametrize(
    "name, folder",
    [
        ("foo.zip", "foo"),
        ("foo.tar", "foo"),
        ("foo.tar.gz", "foo"),
        ("foo.TGZ", "foo"),
        ("foo.bundle", "foo"),
        (".zip", "archive"),
        ("..foo.zip", "foo"),
        ("v1.2.zip", "v1.2"),
    ],
)
def test_the_folder_is_named_after_the_archive(name, folder):
    assert extract.folder_name(f"/some/where/{name}") == folder


def test_the_single_top_folder_is_not_repeated(place):
    archive = put(place[0], "foo.zip", zip_bytes(("foo/", b""), ("foo/foo.ipynb", b"{}")))
    opened = extract.extract(str(archive), str(place[1]))
    assert opened.folder == str(place[1] / "foo") and opened.notebooks == ["foo.ipynb"]
    assert os.listdir(place[1] / "foo") == ["foo.ipynb"]


def test_a_taken_name_gets_a_free_one_and_nothing_is_merged(place):
    archive = put(place[0], "foo.zip", zip_bytes(("foo/a.txt", b"new")))
    (place[1] / "foo").mkdir()  # empty: os.rename would replace it
    (place[1] / "foo-1").write_text("somebody's file")
    opened = extract.extract(str(archive), str(place[1]))
    assert opened.name == "foo-2" and os.listdir(opened.folder) == ["a.txt"]
    assert os.listdir(place[1] / "foo") == [] and (place[1] / "foo-1").read_text() == "somebody's file"
    assert extract.extract(str(archive), str(place[1]), name="mine").name == "mine"


def test_an_exact_name_that_is_taken_is_refused(place):
    archive = put(place[0], "foo.zip", zip_bytes(("foo/a.txt", b"new")))
    (place[1] / "target").mkdir()
    refused(
        archive,
        place[1],
        "target already exists, and an archive is never opened into an existing folder",
        name="target",
        exact=True,
    )


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\\b", "a\x00b"])
def test_a_name_that_is_not_one_folder_name_is_refused(place, name):
    archive = put(place[0], "foo.zip", zip_bytes(("foo/a.txt", b"new")))
    refused(archive, place[1], "cannot be a folder's name", name=name)


@pytest.mark.parametrize("renameat2", [True, False])
def test_a_name_taken_just_before_the_rename_is_not_replaced(place, monkeypatch, renameat2):
    if renameat2:
        assert sys.platform != "linux" or folders._renameat2() is not None
    else:
        monkeypatch.setattr(folders, "_renameat2", lambda: None)
    archive = put(place[0], "foo.zip", zip_bytes(("foo/a.txt", b"new")))
    real, calls = folders.free_name, []

    def racing(parent, base, exact=False):
        name = real(parent, base, exact)
        if not calls:
            os.mkdir(os.path.join(parent, name))  # another user makes the folder right then
        calls.append(name)
        return name

    monkeypatch.setattr(folders, "free_name", racing)
    opened = extract.extract(str(archive), str(place[1]))
    assert calls == ["foo", "foo-1"] and opened.name == "foo-1"
    assert os.listdir(place[1] / "foo") == [] and os.listdir(opened.folder) == ["a.txt"]


@pytest.mark.parametrize("when", ["while it is copied", "just before the rename"])
def test_an_exact_name_taken_meanwhile_is_refused_and_left_alone(place, monkeypatch, when):
    archive = put(place[0], "foo.zip", zip_bytes(("foo/a.txt", b"new")))
    hook = "_fill" if when == "while it is copied" else "free_name"
    module = extract if hook == "_fill" else folders
    real = getattr(module, hook)

    def racing(*args, **kwargs):
        found = real(*args, **kwargs)
        (place[1] / "target").mkdir(exist_ok=True)
        return found

    monkeypatch.setattr(module, hook, racing)
    with pytest.raises(Refused, match="target already exists"):
        extract.extract(str(archive), str(place[1]), name="target", exact=True)
    assert os.listdir(place[1]) == ["target"] and os.listdir(place[1] / "target") == []


def test_a_full_disk_leaves_nothing_and_says_so(place, monkeypatch):
    archive = put(place[0], "a.zip", zip_bytes(("a/1.bin", os.urandom(3 * 1024**2)), ("a/2.txt", b"2")))
    real, writes = members.write_all, []

    def filling(fd, data):
        writes.append(len(data))
        if len(writes) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd, data)

    monkeypatch.setattr(members, "write_all", filling)
    message = refused(archive, place[1], "because the disk is full", error=OpenFailed)
    assert message.endswith("nothing was left behind.")


def test_cancel_stops_between_blocks_and_leaves_nothing(place, monkeypatch):
    archive = put(place[0], "a.zip", zip_bytes(("a/1.bin", os.urandom(3 * 1024**2)), ("a/2.txt", b"2")))
    cancel, real, writes = threading.Event(), members.write_all, []

    def written(fd, data):
        real(fd, data)
        writes.append(len(data))
        cancel.set()

    monkeypatch.setattr(members, "write_all", written)
    refused(archive, place[1], "was cancelled; nothing was left behind", error=Cancelled, cancel=cancel)
    assert writes == [extract.BLOCK]


def test_an_interrupt_leaves_nothing(place, monkeypatch):
    archive = put(place[0], "a.zip", zip_bytes(("a/1.bin", b"1"), ("a/2.txt", b"2")))

    def interrupted(fd, data):
        raise KeyboardInterrupt

    monkeypatch.setattr(members, "write_all", interrupted)
    refused(archive, place[1], None, error=KeyboardInterrupt)


def test_an_archive_changed_between_the_passes_is_refused(place, monkeypatch):
    big = os.urandom(200_000)  # the second header lies beyond what a read buffer holds
    archive = put(place[0], "a.tar", tar_bytes(("a/x.bin", big), ("a/y.txt", b"y")))
    real = extract.survey

    def then_swapped(*args, **kwargs):
        found = real(*args, **kwargs)
        with open(archive, "r+b") as f:  # in place: the open file sees it
            f.write(tar_bytes(("a/x.bin", big), ("../../evil", b"y")))
        return found

    monkeypatch.setattr(members, "survey", then_swapped)
    refused(archive, place[1], "a.tar changed while it was being opened")


def dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporary_folders_of_dead_runs_are_swept(place):
    host = folders._host()
    dead = place[1] / f".nbext_pkg-open-{host}-{dead_pid()}-0123456789abcdef"
    alive = place[1] / f".nbext_pkg-open-{host}-1-0123456789abcdef"  # pid 1 lives
    elsewhere = place[1] / f".nbext_pkg-open-other_host-{dead_pid()}-0123456789abcdef"
    for folder in (dead, alive, elsewhere):
        (folder / "half").mkdir(parents=True)
    extract.extract(str(put(place[0], "a.zip", zip_bytes(("a.txt", b"a")))), str(place[1]))
    assert sorted(os.listdir(place[1])) == sorted(["a", alive.name, elsewhere.name])
    assert socket.gethostname()


def test_work_goes_through_a_hidden_temporary_folder(place, monkeypatch):
    seen = []
    real = extract._fill

    def watching(archive, steps, temp, *args):
        seen.append(os.path.basename(temp))
        assert os.listdir(place[1]) == [os.path.basename(temp)]
        return real(archive, steps, temp, *args)

    monkeypatch.setattr(extract, "_fill", watching)
    extract.extract(str(put(place[0], "a.zip", zip_bytes(("a.txt", b"a")))), str(place[1]))
    assert extract.TEMP.fullmatch(seen[0]) and seen[0].startswith(".nbext_pkg-open-")
    assert os.listdir(place[1]) == ["a"]


def test_files_get_default_modes_never_the_archives(place):
    info = zipfile.ZipInfo("a/run.sh")
    info.external_attr = (stat.S_IFREG | 0o6777) << 16
    tar_info, _ = tar_member("a/run.sh", b"#!/bin/sh\n", mode=0o6777, mtime=1_000_000_000)
    umask = os.umask(0o022)
    try:
        for name, data in (
            ("z.zip", zip_bytes((info, b"#!/bin/sh\n"))),
            ("t.tar", tar_bytes((tar_info, b"#!/bin/sh\n"))),
        ):
            opened = extract.extract(str(put(place[0], name, data)), str(place[1]))
            mode = os.stat(os.path.join(opened.folder, "run.sh")).st_mode
            assert stat.S_IMODE(mode) == 0o644, oct(mode)
    finally:
        os.umask(umask)
    assert os.stat(os.path.join(opened.folder, "run.sh")).st_mtime == 1_000_000_000


# -- what an attack found: names deep enough to cost quadratic memory, headers kept whole,
#    folders too deep to remove by recursion, manifests too deep to parse --------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_member_too_deep_is_refused_before_its_folders_cost_anything(place, fmt):
    deep = "a/" * (extract.MAX_DEPTH + 1) + "f"
    archive = put(place[0], f"deep.{fmt}", archive_bytes(fmt, ("ok.txt", b"ok"), (deep, b"x")))
    refused(archive, place[1], f"more than {extract.MAX_DEPTH} folders deep")
    fine = "a/" * (extract.MAX_DEPTH - 1) + "f"
    opened = extract.extract(
        str(put(place[0], f"fine.{fmt}", archive_bytes(fmt, (fine, b"x")))), str(place[1])
    )
    assert os.path.exists(os.path.join(opened.folder, fine[2:]))  # (its one top folder taken off)


def test_a_name_longer_than_a_path_may_be_is_refused(place):
    long_name = "/".join(["b" * 200] * 30)  # 30 levels of 200 bytes: 6 KB, under the depth limit
    archive = put(place[0], "long.tar", tar_bytes((long_name, b"x")))
    refused(archive, place[1], "longer than disks allow")


def test_tar_headers_are_neither_kept_nor_unbounded(place):
    members = []
    for i in range(300):  # 300 members of 60 KiB of pax attributes: over 16 MiB of headers
        info = tarfile.TarInfo(f"m{i}.txt")
        info.size = 1
        info.pax_headers = {"comment": "c" * 60_000}
        members.append((info, b"x"))
    archive = put(place[0], "pax.tar.gz", tar_bytes(*members, gz=True))
    refused(archive, place[1], "of member headers")
    # Under the cap, the pax attributes are not kept member after member.
    archive = put(place[0], "few.tar", tar_bytes(*members[:20]))
    seen = []
    with open(archive, "rb") as f:
        found = extract.open_archive(f, "few.tar", extract.DEFAULT_LIMITS)
        for member in found.members():
            seen.append((member.handle.pax_headers, len(found._tar.members)))
    assert seen == [({}, 0)] * 20


def test_a_failed_open_and_the_sweep_survive_a_leftover_they_cannot_remove(place, monkeypatch):
    archive = put(place[0], "a.zip", zip_bytes(("a/x.txt", b"x")))

    def cannot(path):
        raise OSError(errno.EBUSY, "busy")

    monkeypatch.setattr(folders, "place", lambda *a: (_ for _ in ()).throw(OSError(errno.EIO, "io")))
    monkeypatch.setattr(folders, "remove_tree", cannot)
    with pytest.raises(OpenFailed, match="a.zip could not be opened"):  # the real error, not the cleanup's
        extract.extract(str(archive), str(place[1]))


def test_a_manifest_too_deep_to_parse_is_not_ours_and_no_traceback(place):
    archive = put(place[0], "nest.zip", zip_bytes(("b/MANIFEST.json", b"[" * 200_000), ("b/x", b"x")))
    opened = extract.extract(str(archive), str(place[1]))
    assert opened.manifest is None
    assert any("manifest" in line.lower() for line in extract.verify(str(archive)))


def test_a_folder_that_cannot_be_written_is_said_so(monkeypatch, place):
    archive = put(place[0], "a.zip", zip_bytes(("a/x.txt", b"x")))
    monkeypatch.setattr(
        folders, "make_temp", lambda parent: (_ for _ in ()).throw(PermissionError(errno.EACCES, "denied"))
    )
    with pytest.raises(extract.NotWritable, match="cannot be written to"):
        extract.extract(str(archive), str(place[1]))


def test_the_archive_is_opened_as_the_file_located_never_a_fifo_or_a_swapped_file(place):
    fifo = place[0] / "pipe.zip"
    os.mkfifo(fifo)  # opened without waiting for a writer, then refused
    refused(fifo, place[1], "could not be read", error=OpenFailed)
    assert any("pipe.zip" in line for line in extract.verify(str(fifo)))
    good = put(place[0], "good.zip", zip_bytes(("a/x.txt", b"x")))
    other = put(place[0], "other.zip", zip_bytes(("b/y.txt", b"y")))
    located = os.stat(good)
    os.replace(other, good)  # swapped between the look and the open
    refused(good, place[1], "could not be read", error=OpenFailed, expect=(located.st_dev, located.st_ino))
