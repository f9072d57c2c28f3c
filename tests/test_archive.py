"""bundlers/archive.py without a server: zip and tar written into a sink that cannot seek,
compression chosen per file, and members that fail part-way left out."""

import io
import os
import tarfile
import zipfile

import pytest

from nbext_pkg.bundlers import archive
from nbext_pkg.bundlers.paths import resolve
from nbext_pkg.bundlers.sources import CheckedFile, LocalFiles


def add_path(writer, arcname, path):
    """Add the file at ``path`` as the pipeline does: found, then opened as found."""
    (item,) = resolve(os.path.dirname(path), "", os.path.basename(path), False)
    files = LocalFiles(os.path.realpath(os.path.dirname(path)))
    with files.open(item) as checked:
        result = writer.add_file(arcname, checked, item.mtime_ns / 1e9)
    files.close()
    return result


@pytest.mark.parametrize(
    "name, content, deflated",
    [
        ("table.csv", b"a,b,c\n1,2,3\n" * 5000, True),
        ("picture.png", b"a,b,c\n1,2,3\n" * 5000, False),  # by its suffix: already compressed
        ("noise.bin", os.urandom(200_000), False),  # its first 64 KiB do not shrink
        ("empty.txt", b"", True),
    ],
)
def test_zip_compression_is_chosen_per_file(tmp_path, name, content, deflated):
    (tmp_path / name).write_bytes(content)
    sink = io.BytesIO()
    writer = archive.open_archive("zip", sink)
    size, _ = add_path(writer, f"top/{name}", str(tmp_path / name))
    writer.close()
    assert size == len(content)
    with zipfile.ZipFile(io.BytesIO(sink.getvalue())) as zf:
        info = zf.getinfo(f"top/{name}")
        assert info.compress_type == (zipfile.ZIP_DEFLATED if deflated else zipfile.ZIP_STORED)
        assert zf.read(info) == content


class WriteOnly:
    """A sink that cannot seek or tell, like a network response."""

    def __init__(self):
        self.data = bytearray()

    def write(self, b):
        self.data += b
        return len(b)

    def flush(self):
        pass


@pytest.mark.parametrize("fmt", archive.FORMATS)
def test_archives_stream_into_a_sink_that_cannot_seek(tmp_path, fmt):
    (tmp_path / "données.csv").write_text("x\n" * 1000)
    sink = WriteOnly()
    writer = archive.open_archive(fmt, sink)
    add_path(writer, "top/données.csv", str(tmp_path / "données.csv"))
    writer.add_bytes("top/MANIFEST.json", b"{}")
    writer.close()
    data = io.BytesIO(bytes(sink.data))
    if fmt == "zip":
        names = zipfile.ZipFile(data).namelist()
    else:
        names = tarfile.open(fileobj=data, mode="r:*").getnames()
    assert names == ["top/données.csv", "top/MANIFEST.json"]


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown archive format 'rar'"):
        archive.open_archive("rar", io.BytesIO())


def test_bytes_added_whole_are_stored_or_deflated_on_their_merits():
    sink = io.BytesIO()
    writer = archive.open_archive("zip", sink)
    writer.add_bytes("top/requirements.txt", b"nbformat==5.10.4\n" * 100, 0)
    writer.add_bytes("top/noise.bin", os.urandom(10_000), 0)
    writer.close()
    with zipfile.ZipFile(io.BytesIO(sink.getvalue())) as zf:
        assert zf.getinfo("top/requirements.txt").compress_type == zipfile.ZIP_DEFLATED
        assert zf.getinfo("top/noise.bin").compress_type == zipfile.ZIP_STORED


class Shrinking:
    """A CheckedFile stand-in whose file turns out to have changed after ``after`` reads."""

    def __init__(self, data, after):
        from nbext_pkg.bundlers.paths import Resolved

        self.item = Resolved("/x", "x", len(data))
        self.pieces = [data[i : i + 65536] for i in range(0, len(data), 65536)]
        self.after = after

    def read(self, n=65536):
        from nbext_pkg.bundlers.sources import Changed

        if self.after == 0:
            raise Changed("x shrank while it was read")
        self.after -= 1
        return self.pieces.pop(0) if self.pieces else b""

    blocks = CheckedFile.blocks

    def finish(self):
        pass


def archive_is_valid(data, fmt, tmp_path):
    """Every check an extractor makes: zipfile's CRCs and `unzip -t`; a full tar read."""
    import subprocess

    if fmt == "zip":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            assert zf.testzip() is None
            names = zf.namelist()
        (tmp_path / "t.zip").write_bytes(data)
        done = subprocess.run(["unzip", "-t", str(tmp_path / "t.zip")], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return names
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
        members = tf.getmembers()
        for member in members:
            assert len(tf.extractfile(member).read()) == member.size
    return [m.name for m in members]


@pytest.mark.parametrize("fmt", archive.FORMATS)
def test_a_member_that_fails_part_way_is_left_out_and_the_archive_stays_valid(tmp_path, fmt):
    from nbext_pkg.bundlers.sources import Changed

    sink = WriteOnly()
    writer = archive.open_archive(fmt, sink)
    writer.add_bytes("top/first.txt", b"first")
    with pytest.raises(Changed):
        writer.add_file("top/moving.bin", Shrinking(os.urandom(300_000), after=3), 0)
    writer.add_bytes("top/last.txt", b"last")
    writer.close()
    assert archive_is_valid(bytes(sink.data), fmt, tmp_path) == ["top/first.txt", "top/last.txt"]


@pytest.mark.parametrize("fmt", archive.FORMATS)
@pytest.mark.parametrize(
    "mtime", [0, -86400 * 365, 7_000_000_000, 10**11], ids=["1970", "1969", "2191", "5138"]
)
def test_files_from_any_time_go_in(tmp_path, monkeypatch, fmt, mtime):
    """Zip dates hold 1980 to 2107 only (and a server west of UTC sees 1970 as 1969)."""
    import time as time_mod

    monkeypatch.setenv("TZ", "America/New_York")
    time_mod.tzset()
    try:
        (tmp_path / "old.txt").write_text("old")
        os.utime(tmp_path / "old.txt", (mtime, mtime))
        sink = WriteOnly()
        writer = archive.open_archive(fmt, sink)
        add_path(writer, "top/old.txt", str(tmp_path / "old.txt"))
        writer.close()
        assert archive_is_valid(bytes(sink.data), fmt, tmp_path) == ["top/old.txt"]
    finally:
        monkeypatch.delenv("TZ")
        time_mod.tzset()


class InMemory:
    """A CheckedFile stand-in over bytes: ``finish`` raises what it is given."""

    def __init__(self, data, fails=None):
        from nbext_pkg.bundlers.paths import Resolved

        self.item = Resolved("/x", "x", len(data))
        self.data, self.at, self.fails = data, 0, fails

    def read(self, n=65536):
        piece = self.data[self.at : self.at + n]
        self.at += len(piece)
        return piece

    blocks = CheckedFile.blocks

    def finish(self):
        if self.fails is not None:
            raise self.fails


def opened(data, fmt):
    if fmt == "zip":
        return zipfile.ZipFile(io.BytesIO(data))
    return tarfile.open(fileobj=io.BytesIO(data), mode="r:*")


def contents(data, fmt):
    with opened(data, fmt) as whole:
        if fmt == "zip":
            return {name: whole.read(name) for name in whole.namelist()}
        return {m.name: whole.extractfile(m).read() for m in whole.getmembers()}


@pytest.mark.parametrize("fmt", archive.FORMATS)
def test_every_member_holds_its_bytes_and_is_told_by_size_and_sha256(fmt):
    import hashlib

    big, small = os.urandom(300_000), b"small\n" * 10
    sink = WriteOnly()
    writer = archive.open_archive(fmt, sink)
    told = [
        writer.add_file("top/big.bin", InMemory(big), 0),
        writer.add_stream("top/page.html", iter([b"<p>", b"two", b"</p>"]), 0, None),
        writer.add_stream("top/empty.html", iter([]), 0, 10),
        writer.add_bytes("top/MANIFEST.json", small, 0),
    ]
    writer.close()
    expected = {
        "top/big.bin": big,
        "top/page.html": b"<p>two</p>",
        "top/empty.html": b"",
        "top/MANIFEST.json": small,
    }
    assert contents(bytes(sink.data), fmt) == expected
    assert told == [(len(data), hashlib.sha256(data).hexdigest()) for data in expected.values()]


@pytest.mark.parametrize("fmt", archive.FORMATS)
def test_members_carry_their_time_and_plain_permissions(fmt):
    import time

    sink = WriteOnly()
    writer = archive.open_archive(fmt, sink)
    when = 1_700_000_000  # November 2023
    writer.add_file("top/a.txt", InMemory(b"a"), when)
    writer.add_bytes("top/b.txt", b"b", when)
    writer.add_stream("top/c.html", iter([b"c"]), when, None)
    before = time.time()
    writer.add_bytes("top/now.txt", b"now")
    writer.close()
    with opened(bytes(sink.data), fmt) as whole:
        if fmt == "zip":
            infos = {i.filename: i for i in whole.infolist()}
            stamp = time.localtime(when)[:6]
            assert (
                infos["top/a.txt"].date_time == infos["top/b.txt"].date_time == infos["top/c.html"].date_time
            )
            assert infos["top/a.txt"].date_time[:5] == stamp[:5]
            assert abs(time.mktime(infos["top/now.txt"].date_time + (0, 0, -1)) - before) < 5
            assert {i.external_attr >> 16 for i in infos.values()} == {0o644}
        else:
            infos = {m.name: m for m in whole.getmembers()}
            assert infos["top/a.txt"].mtime == infos["top/b.txt"].mtime == infos["top/c.html"].mtime == when
            assert abs(infos["top/now.txt"].mtime - before) < 5
            assert {m.mode for m in infos.values()} == {0o644}


@pytest.mark.parametrize("fmt, magic", [("zip", b"PK\x03\x04"), ("tar.gz", b"\x1f\x8b"), ("tar", b"top/")])
def test_each_format_is_what_its_name_says(fmt, magic):
    sink = WriteOnly()
    writer = archive.open_archive(fmt, sink)
    writer.add_bytes("top/x.txt", b"x" * 1000, 0)
    writer.close()
    assert bytes(sink.data).startswith(magic)
    if fmt == "tar":
        assert bytes(sink.data)[257:262] == b"ustar"  # uncompressed: the header is readable as is


def test_data_that_barely_shrinks_is_stored_and_suffixes_count_in_any_case():
    sample = os.urandom(60_000) + bytes(4_000)  # deflates to about 94%: not worth it
    assert not archive.worth_deflating("data.bin", sample)
    assert archive.worth_deflating("data.bin", bytes(60_000))
    assert not archive.worth_deflating("PICTURE.PNG", bytes(60_000))
    assert archive.worth_deflating("notes", b"")


def test_a_saving_of_exactly_the_minimum_is_not_worth_deflating():
    import random
    import zlib

    # A sample that deflates to exactly (1 - MIN_SAVING) of its size: noise, then zeros.
    rng = random.Random(7)
    for noise in range(800, 1200):
        head = rng.randbytes(noise)
        for zeros in range(0, 400, 10):
            sample = head + bytes(zeros)
            if len(zlib.compress(sample, 1)) == len(sample) * (1 - archive.MIN_SAVING):
                assert not archive.worth_deflating("data.bin", sample)
                assert archive.worth_deflating("data.bin", sample + bytes(50))
                return
    pytest.fail("no sample deflates to exactly the limit")


def test_a_large_tar_member_is_spooled_to_disk_and_a_small_one_in_memory(monkeypatch):
    import tempfile

    spools = []

    class Recording(tempfile.SpooledTemporaryFile):
        def seek(self, *args):
            spools.append(self._rolled)  # before the member is written: where it was spooled
            return super().seek(*args)

    monkeypatch.setattr(tempfile, "SpooledTemporaryFile", Recording)
    monkeypatch.setattr(archive, "SPOOL_MEMORY", 1000)
    sink = WriteOnly()
    writer = archive.open_archive("tar.gz", sink)
    writer.add_stream("top/small.html", iter([b"s" * 1000]), 0, None)
    writer.add_stream("top/large.html", iter([b"l" * 600, b"l" * 600]), 0, None)
    writer.close()
    assert spools[:2] == [False, True]
    assert contents(bytes(sink.data), "tar.gz") == {
        "top/small.html": b"s" * 1000,
        "top/large.html": b"l" * 1200,
    }


def local_header_extra(data, name):
    """The extra field of ``name``'s local header in a zip (zip64 sizes are there)."""
    import struct

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        at = zf.getinfo(name).header_offset
    name_length, extra_length = struct.unpack("<HH", data[at + 26 : at + 30])
    return data[at + 30 + name_length : at + 30 + name_length + extra_length]


def test_a_zip_member_takes_zip64_sizes_only_when_it_may_be_that_large():
    sink = WriteOnly()
    writer = archive.open_archive("zip", sink)
    writer.add_file("top/small.bin", InMemory(b"s" * 100), 0)
    writer.add_stream("top/unknown.html", iter([b"page"]), 0, None)
    edge = int(zipfile.ZIP64_LIMIT / 1.05)
    writer.add_stream("top/under.bin", iter([b"u"]), 0, edge - 10)
    writer.add_stream("top/over.bin", iter([b"o"]), 0, edge + 10)
    writer.close()
    data = bytes(sink.data)
    zip64 = b"\x01\x00"  # the zip64 extra field's id
    assert not local_header_extra(data, "top/small.bin").startswith(zip64)
    assert not local_header_extra(data, "top/under.bin").startswith(zip64)
    assert local_header_extra(data, "top/unknown.html").startswith(zip64)
    assert local_header_extra(data, "top/over.bin").startswith(zip64)
    assert contents(data, "zip")["top/over.bin"] == b"o"


@pytest.mark.parametrize("fmt", archive.FORMATS)
def test_a_member_whose_file_moved_is_left_out_and_its_name_can_be_used_again(fmt):
    import warnings

    from nbext_pkg.bundlers.sources import Changed

    sink = WriteOnly()
    writer = archive.open_archive(fmt, sink)
    with pytest.raises(Changed):
        writer.add_file("top/moved.txt", InMemory(b"old", fails=Changed("moved")), 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # zipfile warns of a name written twice
        writer.add_file("top/moved.txt", InMemory(b"new"), 0)
    writer.close()
    assert contents(bytes(sink.data), fmt) == {"top/moved.txt": b"new"}


@pytest.mark.parametrize("fmt", archive.FORMATS)
def test_an_abandoned_archive_writes_nothing_more(fmt):
    import gc

    sink = WriteOnly()
    writer = archive.open_archive(fmt, sink)
    # 9216 bytes leave a tar's stream buffer so full that closing it would send a record.
    writer.add_bytes("top/a.txt", os.urandom(9216), 0)
    sent = bytes(sink.data)
    writer.abandon()
    writer.close()
    del writer
    gc.collect()  # nor when it is collected
    assert bytes(sink.data) == sent
