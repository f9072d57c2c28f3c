"""bundlers/members.py: reading zip and tar alike, on their own: the kind found by content,
the survey's verdict on each member, and one member copied, hashed and counted."""

import gzip
import hashlib
import io
import os
import tarfile
import threading

import pytest
from archives import archive_bytes, tar_bytes, tar_member, zip_bytes

from nbext_pkg.bundlers import members
from nbext_pkg.bundlers.open_rules import DEFAULT_LIMITS, Budget, Cancelled, Limits, Refused

FORMATS = ("zip", "tar", "tar.gz")


def opened(tmp_path, data, name="a.bin", limits=DEFAULT_LIMITS):
    path = tmp_path / name
    path.write_bytes(data)
    f = open(path, "rb")
    return f, members.open_archive(f, name, limits)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_kind_is_found_by_content_not_by_name(tmp_path, fmt):
    f, archive = opened(tmp_path, archive_bytes(fmt, ("a/x.txt", b"x")), name="misnamed.txt")
    with f:
        assert archive.kind == fmt
        assert [(m.raw, m.kind, m.size) for m in archive.members()] == [("a/x.txt", "file", 1)]


@pytest.mark.parametrize(
    "data, words",
    [
        (b"plain words, not an archive", "is not a zip, tar or tar.gz archive"),
        (gzip.compress(b"x" * 600), "is gzip-compressed but holds no tar archive"),
        (b"", "is not a zip, tar or tar.gz archive"),
    ],
)
def test_what_is_not_an_archive_is_refused(tmp_path, data, words):
    with pytest.raises(Refused, match=words):
        opened(tmp_path, data)


@pytest.mark.parametrize("compressed", [False, True], ids=["tar", "tar.gz"])
def test_an_empty_tar_is_an_archive_with_no_members(tmp_path, compressed):
    """On every pass (Python 3.10's tarfile would seek to offset -1 here)."""
    data = gzip.compress(tar_bytes()) if compressed else tar_bytes()
    f, archive = opened(tmp_path, data)
    with f:
        assert archive.kind == ("tar.gz" if compressed else "tar")
        assert list(archive.members()) == [] and list(archive.members()) == []


def test_tar_block_checks_the_header_checksum():
    header = tar_bytes(("x", b""))[:512]
    assert members._tar_block(header)
    assert members._tar_block(b"\0" * 512)  # the end of an empty tar
    assert not members._tar_block(header[:511])
    broken = bytearray(header)
    broken[0] ^= 1
    assert not members._tar_block(bytes(broken))
    assert not members._tar_block(b"x" * 148 + b"notoctal" + b"x" * 356)


def test_a_read_beyond_the_cap_is_a_tar_error():
    capped = members._Capped(io.BytesIO(b"x" * 10))
    assert capped.read(4) == b"xxxx" and capped.tell() == 4
    for n in (-1, None, members.MAX_HEADER_READ + 1):
        with pytest.raises(tarfile.ReadError):
            capped.read(n)


def test_the_survey_judges_each_member_and_keeps_the_order(tmp_path):
    data = zip_bytes(("top/", b""), ("top/a.txt", b"a"), ("top/.env", b"secret"), ("top/b/c.txt", b"c"))
    f, archive = opened(tmp_path, data)
    with f:
        steps, left_out = members.survey(archive, Limits())
    assert [(m.raw, parts) for m, parts in steps] == [
        ("top/", ("top",)),
        ("top/a.txt", ("top", "a.txt")),
        ("top/.env", None),
        ("top/b/c.txt", ("top", "b", "c.txt")),
    ]
    assert left_out == [("top/.env", "hidden")]
    with open(tmp_path / "a.bin", "rb") as again:
        steps, left_out = members.survey(
            members.open_archive(again, "a", Limits()), Limits(allow_hidden=True)
        )
    assert left_out == [] and steps[2][1] == ("top", ".env")


def test_the_survey_stops_when_cancelled(tmp_path):
    cancel = threading.Event()
    cancel.set()
    f, archive = opened(tmp_path, zip_bytes(("a", b"a")))
    with f, pytest.raises(Cancelled, match="was cancelled; nothing was left behind"):
        members.survey(archive, Limits(), cancel)


def test_a_member_that_is_a_link_is_refused_by_the_survey(tmp_path):
    link = tar_member("a/link", kind=tarfile.SYMTYPE, linkname="/etc")[0]
    f, archive = opened(tmp_path, tar_bytes((link, b"")))
    with f, pytest.raises(Refused, match="a/link is a symbolic link, and only files and folders are opened"):
        members.survey(archive, Limits())


def test_common_top_is_the_one_folder_all_share():
    assert members.common_top({("a", "x"): "file", ("a",): "dir"}) == "a"
    assert members.common_top({("a", "x"): "file", ("b", "y"): "file"}) is None
    assert members.common_top({("a",): "file"}) is None  # a lone file is not a folder
    assert members.inside(("a", "x"), "a") == ("x",) and members.inside(("a", "x"), None) == ("a", "x")


@pytest.mark.parametrize("keep", [True, False])
def test_stream_copies_hashes_and_counts_a_member(tmp_path, keep):
    data = os.urandom(members.BLOCK + 5)
    f, archive = opened(tmp_path, zip_bytes(("a/big", data)))
    out = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT)
    budget = Budget(Limits(), archive.size)
    with f:
        member = next(archive.members())
        size, sha, kept = members.stream(archive, member, budget, "a.bin", fd=out, keep=keep)
    os.close(out)
    assert (size, sha) == (len(data), hashlib.sha256(data).hexdigest()) and budget.total == len(data)
    assert (tmp_path / "out").read_bytes() == data
    assert kept == (data if keep else None)


def test_stream_refuses_past_the_byte_limit(tmp_path):
    f, archive = opened(tmp_path, zip_bytes(("a/x", b"x" * 100)))
    with f, pytest.raises(Refused, match="more than 10 bytes once opened"):
        members.stream(archive, next(archive.members()), Budget(Limits(max_bytes=10), 1), "a.bin")


def test_write_all_writes_everything_even_in_pieces(tmp_path, monkeypatch):
    real = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real(fd, bytes(data[:3])))
    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT)
    members.write_all(fd, b"0123456789")
    os.close(fd)
    assert (tmp_path / "f").read_bytes() == b"0123456789"


def test_room_bounds_the_manifests_held():
    assert members.room({})
    assert not members.room({str(i): b"" for i in range(64)})
    assert not members.room({"a": b"x" * members.MAX_MANIFEST})


def test_open_checked_refuses_a_link_given_with_expect_and_a_fifo(tmp_path):
    real = tmp_path / "real.zip"
    real.write_bytes(b"x")
    (tmp_path / "link.zip").symlink_to(real)
    with members.open_checked(str(tmp_path / "link.zip")) as f:  # resolved first on the command line
        assert f.read() == b"x"
    info = os.stat(real)
    with pytest.raises(OSError):
        members.open_checked(str(tmp_path / "link.zip"), expect=(info.st_dev, info.st_ino))
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OSError, match="not a regular file"):
        members.open_checked(str(tmp_path / "fifo"))
