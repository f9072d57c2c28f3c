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
    with pytest.raises(ValueError):
        archive.open_archive("rar", io.BytesIO())


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
