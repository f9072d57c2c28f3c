"""The archive of known length (bundlers/sized.py, bundlers/layout.py): its length is the
bytes written, any range of it is those bytes, and extractors read it."""

import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import tarfile
import zipfile

import pytest

from nbext_pkg.bundlers import digests, layout, manifest, sized
from nbext_pkg.bundlers.plan import Member


def members_of(root, names):
    found = []
    for name in names:
        path = os.path.join(root, name)
        info = os.stat(path)
        found.append(
            Member(
                rel=name,
                real=os.path.realpath(path),
                size=info.st_size,
                dev=info.st_dev,
                ino=info.st_ino,
                mtime_ns=info.st_mtime_ns,
                ctime_ns=info.st_ctime_ns,
                arcname=name,
            )
        )
    return found


def make(root, names, fmt="zip", cache=None, generated=(("a.html", b"<p>hi</p>" * 50),), compressed=None):
    doc = manifest.document(
        "test",
        "nb.ipynb",
        {},
        None,
        [{"reference": "x", "reason": "missing"}],
        generated={"manifest": "MANIFEST.json"},
        storage="disk",
    )
    notebook = ("nb.ipynb", b'{"cells": []}' * 20, 1_700_000_000.0, None)
    return sized.build(
        fmt,
        os.path.realpath(root),
        "nb",
        notebook,
        members_of(root, names),
        list(generated),
        "MANIFEST.json",
        doc,
        cache=digests.DigestCache() if cache is None else cache,
        compressed=digests.Memo(1000, 1 << 24) if compressed is None else compressed,
    )


class Sink:
    def __init__(self):
        self.buffer = io.BytesIO()

    def write(self, data):
        self.buffer.write(data)

    def value(self):
        return self.buffer.getvalue()


def written(archive, start=0, end=None):
    sink = Sink()
    archive.write(sink, start, end)
    return sink.value()


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "root"
    (root / "data").mkdir(parents=True)
    (root / "data" / "table.csv").write_text("".join(f"{i},{i * i}\n" for i in range(20000)))
    (root / "data" / "noise.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    (root / "data" / "picture.png").write_bytes(b"\x89PNG" + os.urandom(5000))
    (root / "data" / "empty.txt").write_bytes(b"")
    (root / "data" / "é ünïcode.txt").write_text("x" * 1000)
    return root


NAMES = ["data/empty.txt", "data/noise.bin", "data/picture.png", "data/table.csv", "data/é ünïcode.txt"]


def test_the_length_is_the_bytes_and_extractors_agree(folder, tmp_path):
    archive = make(folder, NAMES)
    data = written(archive)
    assert len(data) == archive.length
    path = tmp_path / "b.zip"
    path.write_bytes(data)
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        infos = {i.filename: i for i in zf.infolist()}
        assert infos["nb/data/table.csv"].compress_type == zipfile.ZIP_DEFLATED
        assert infos["nb/data/noise.bin"].compress_type == zipfile.ZIP_STORED
        assert infos["nb/data/picture.png"].compress_type == zipfile.ZIP_STORED
        for name in NAMES:
            assert zf.read(f"nb/{name}") == (folder / name).read_bytes()
        doc = json.loads(zf.read("nb/MANIFEST.json"))
    listed = {f["path"]: f for f in doc["files"]}
    for name in NAMES:
        assert listed[name]["sha256"] == hashlib.sha256((folder / name).read_bytes()).hexdigest()
    assert doc["skipped"] == [{"reference": "x", "reason": "missing"}]
    newest = max(1_700_000_000.0, *(os.stat(folder / n).st_mtime for n in NAMES))
    assert doc["created"] == manifest.stamp(newest)
    if shutil.which("unzip"):
        subprocess.run(["unzip", "-tq", str(path)], check=True, capture_output=True)
    assert_streamable(data)


def assert_streamable(data):
    """What a reader that never looks at the central directory sees: each local header,
    the data, and a data descriptor with the CRC and sizes the central directory has."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        listed = {i.filename: i for i in zf.infolist()}
    at, seen = 0, 0
    while data[at : at + 4] == b"PK\x03\x04":
        head = layout._LOCAL.unpack(data[at : at + 30])
        flags, name_len, extra_len = head[2], head[9], head[10]
        assert flags & 0x08
        name = data[at + 30 : at + 30 + name_len].decode("utf-8")
        extra = data[at + 30 + name_len : at + 30 + name_len + extra_len]
        csize, size = head[7], head[8]
        if csize == 0xFFFFFFFF:
            size, csize = (int.from_bytes(extra[4:12], "little"), int.from_bytes(extra[12:20], "little"))
        at += 30 + name_len + extra_len + csize
        wide = head[7] == 0xFFFFFFFF
        shape = struct.Struct("<4sLQQ" if wide else "<4sLLL")
        sig, crc, dcsize, dsize = shape.unpack(data[at : at + shape.size])
        assert sig == b"PK\x07\x08"
        if name in listed:
            info = listed[name]
            assert (crc, dcsize, dsize) == (info.CRC, info.compress_size, info.file_size), name
            assert (csize, size) == (info.compress_size, info.file_size), name
            seen += 1
        at += shape.size
    assert data[at : at + 4] == b"PK\x01\x02" and seen == len(listed)


def test_every_range_is_those_bytes_of_the_whole(folder):
    archive = make(folder, NAMES)
    whole = written(archive)
    parts = archive.layout.parts
    data_part = next(p for p in parts if p.kind == "data" and p.length > 1024 * 1024)
    deflated = next(
        p
        for p in parts
        if p.kind == "data"
        and archive.members[p.index].deflated
        and archive.sources[p.index].member is not None
    )
    tail = parts[-1]
    offsets = [
        0,
        1,
        data_part.offset + 12345,
        deflated.offset + 7,
        tail.offset + 3,
        archive.length - 1,
        parts[-4].offset,
    ]
    assert_streamable(whole)
    for start in offsets:
        # A new archive of the same plan, with a cold cache: nothing carried over.
        again = make(folder, NAMES)
        assert again.etag == archive.etag
        assert written(again, start) == whole[start:], start
    for start, end in [(0, 10), (data_part.offset - 5, data_part.offset + 5), (100, archive.length)]:
        assert written(make(folder, NAMES), start, end) == whole[start:end]


def test_a_warm_cache_skips_hashing_and_gives_the_same_bytes(folder, monkeypatch):
    cache = digests.DigestCache()
    whole = written(make(folder, NAMES, cache=cache))
    assert len(cache) == len(NAMES)
    hashed = []
    real = sized.hashlib.sha256

    class Counted:
        def __init__(self, data=b""):
            self.inner = real(data)
            hashed.append(len(data))

        def update(self, data):
            hashed.append(len(data))
            self.inner.update(data)

        def hexdigest(self):
            return self.inner.hexdigest()

    monkeypatch.setattr(sized.hashlib, "sha256", Counted)
    again = make(folder, NAMES, cache=cache)
    half = len(whole) // 2
    assert written(again, half) == whole[half:]
    # Only the generated members (notebook, HTML copy: a few KiB) and the ETag are hashed
    # again; the user's files (over 3 MiB) are not read into a hash.
    assert 0 < sum(hashed) < 16 * 1024


def test_a_file_that_changes_is_left_out_and_the_zip_keeps_its_length(folder, tmp_path):
    archive = make(folder, NAMES)
    with open(folder / "data" / "noise.bin", "r+b") as f:  # the same file, written to
        f.write(b"changed")
    data = written(archive)
    assert len(data) == archive.length
    names, doc = valid_zip(data, tmp_path)
    assert "nb/data/noise.bin" not in names
    assert zip_member(data, "nb/data/picture.png") == (folder / "data" / "picture.png").read_bytes()
    assert {"reference": "data/noise.bin", "reason": "changed"} in doc["skipped"]
    assert "data/noise.bin" not in {f["path"] for f in doc["files"]}


def test_a_stored_file_that_is_replaced_is_left_out(folder, tmp_path):
    archive = make(folder, NAMES)
    os.unlink(folder / "data" / "noise.bin")
    (folder / "data" / "noise.bin").write_bytes(b"other")
    data = written(archive)
    assert len(data) == archive.length
    names, _ = valid_zip(data, tmp_path)
    assert "nb/data/noise.bin" not in names
    assert zip_member(data, "nb/data/table.csv") == (folder / "data" / "table.csv").read_bytes()


def test_tar_has_its_length_and_ranges(folder, tmp_path):
    archive = make(folder, NAMES, fmt="tar")
    whole = written(archive)
    assert len(whole) == archive.length and archive.length % layout.TAR_RECORD == 0
    with tarfile.open(fileobj=io.BytesIO(whole)) as tf:
        for name in NAMES:
            assert tf.extractfile(f"nb/{name}").read() == (folder / name).read_bytes()
        json.loads(tf.extractfile("nb/MANIFEST.json").read())
    for start in (0, 511, 512, archive.length // 2, archive.length - 1):
        assert written(make(folder, NAMES, fmt="tar"), start) == whole[start:]


def test_tar_ends_the_download_when_a_file_changes(folder):
    archive = make(folder, NAMES, fmt="tar")
    (folder / "data" / "noise.bin").write_bytes(b"other")
    with pytest.raises(sized.Unsendable):
        written(archive)


def test_inputs_change_the_etag(folder):
    before = make(folder, NAMES).etag
    assert make(folder, NAMES).etag == before
    assert make(folder, NAMES, fmt="tar").etag != before
    os.utime(folder / "data" / "picture.png", ns=(1, 1))
    assert make(folder, NAMES).etag != before
    assert make(folder, NAMES[:-1]).etag != before


def test_zip64_past_four_gib(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    with open(root / "big.bin", "wb") as f:
        f.truncate(4 * 1024**3 + 1000)  # sparse: reads as zeros
    archive = make(root, ["big.bin"], generated=())
    big = archive.members[1]
    assert big.zip64 and archive.length > 4 * 1024**3
    tail = written(archive, archive.layout.central_offset - 200)
    # The end of the archive alone: a reader finds the zip64 fields through the tail.
    cut = archive.layout.central_offset - 200
    entries = _central(tail[200:], cut + 200)
    assert entries["nb/big.bin"] == (4 * 1024**3 + 1000, big.offset)


def test_a_small_file_deflated_by_the_plan_goes_out_as_the_plan_read_it(folder, tmp_path):
    archive = make(folder, NAMES)
    before = (folder / "data" / "table.csv").read_bytes()
    (folder / "data" / "table.csv").write_text("changed")
    path = tmp_path / "b.zip"
    path.write_bytes(written(archive))
    with zipfile.ZipFile(path) as zf:
        assert zf.read("nb/data/table.csv") == before  # one moment's file, never a mix


def _central(tail, offset):
    """{name: (file size, offset of its header)} from a zip's central directory."""
    found = {}
    at = 0
    while tail[at : at + 4] == b"PK\x01\x02":
        head = layout._CENTRAL.unpack(tail[at : at + 46])
        name_len, extra_len, comment_len = head[11], head[12], head[13]
        name = tail[at + 46 : at + 46 + name_len].decode()
        extra = tail[at + 46 + name_len : at + 46 + name_len + extra_len]
        size, local = head[10], head[17]
        if extra[:2] == b"\x01\x00":
            count = (len(extra) - 4) // 8
            values = [int.from_bytes(extra[4 + 8 * i : 12 + 8 * i], "little") for i in range(count)]
            if size == 0xFFFFFFFF:
                size = values.pop(0)
                values.pop(0)
            if local == 0xFFFFFFFF:
                local = values.pop(0)
        found[name] = (size, local)
        at += 46 + name_len + extra_len + comment_len
    return found


def test_memos_are_bounded_by_entries_bytes_and_age(monkeypatch):
    memo = digests.Memo(max_entries=3, max_bytes=100, ttl=60)
    for i in range(4):
        memo.put(i, f"v{i}", 10)
    assert memo.get(0) is None and memo.get(3) == "v3"  # the oldest went first
    memo.put("big", "x", 95)  # room is made by dropping the least recently used
    assert memo.get("big") == "x" and memo.get(1) is None and memo.get(2) is None
    memo.put("huge", "y", 101)  # more than all the room: never kept
    assert memo.get("huge") is None and memo.get("big") == "x"
    now = digests.time.monotonic()
    monkeypatch.setattr(digests.time, "monotonic", lambda: now + 61)
    assert memo.get("big") is None


def test_the_digest_cache_drops_the_least_recently_used():
    cache = digests.DigestCache(max_entries=2)
    for key in "abc":
        cache.put(key, digests.Digest(1, "s"))
    assert cache.get("a") is None and cache.get("c") is not None and len(cache) == 2


def zip_member(data, name):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.read(name)


def valid_zip(data, tmp_path):
    """(member names, manifest) of a zip that unzip, zipfile and a streaming reader accept."""
    path = tmp_path / "check.zip"
    path.write_bytes(data)
    done = subprocess.run(["unzip", "-tq", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_streamable(data)
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        return zf.namelist(), json.loads(zf.read("nb/MANIFEST.json"))


def test_zip64_records_point_where_they_are_when_members_are_left_out(folder, tmp_path, monkeypatch):
    monkeypatch.setattr(layout, "ZIP64_LIMIT", 1000)  # zip64 fields for anything past 1000 bytes
    archive = make(folder, NAMES)
    assert archive.layout.zip64_end
    os.unlink(folder / "data" / "picture.png")
    data = written(archive)
    assert len(data) == archive.length
    names, _ = valid_zip(data, tmp_path)
    assert "nb/data/picture.png" not in names


def test_more_left_out_than_a_comment_holds_keeps_the_length(tmp_path):
    root = tmp_path / "root"
    names = []
    for i in range(1500):
        name = f"many/a-rather-long-name-for-a-small-picture-number-{i:05d}.png"
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"\x89PNG" + os.urandom(50))
        names.append(name)
    archive = make(root, names)
    shutil.rmtree(root / "many")
    data = written(archive)
    assert len(data) == archive.length
    _, doc = valid_zip(data, tmp_path)
    assert sum(1 for s in doc["skipped"] if s["reference"].startswith("many/")) == 1500


def test_a_file_written_to_with_its_mtime_put_back_is_left_out(folder, tmp_path):
    path = folder / "data" / "noise.bin"
    archive = make(folder, NAMES)
    before = os.stat(path)
    with open(path, "r+b") as f:
        f.write(b"X" * 100)  # the same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert make(folder, NAMES).etag != archive.etag  # its ctime moved
    out = tmp_path / "b.zip"
    out.write_bytes(written(archive))
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None and "nb/data/noise.bin" not in zf.namelist()


def test_what_one_download_left_out_every_download_of_that_etag_leaves_out(folder, monkeypatch):
    archive = make(folder, NAMES)
    real_open = sized.LocalFiles.open
    failures = [1]

    def flaky(self, item):  # a file that could not be opened once (EMFILE, EIO...)
        if item.rel == "data/noise.bin" and failures:
            failures.pop()
            raise sized.Changed("could not be opened just now")
        return real_open(self, item)

    monkeypatch.setattr(sized.LocalFiles, "open", flaky)
    first = written(archive)
    again = make(folder, NAMES)
    assert again.etag == archive.etag
    half = len(first) // 2
    assert first[:half] + written(again, half) == first
    assert written(make(folder, NAMES)) == first
    with zipfile.ZipFile(io.BytesIO(first)) as zf:
        assert zf.testzip() is None and "nb/data/noise.bin" not in zf.namelist()


def test_the_etag_names_the_time_zone_the_zip_times_are_written_in(folder, monkeypatch):
    import time as time_mod

    etags = []
    for zone in ("UTC", "Asia/Tokyo"):
        monkeypatch.setenv("TZ", zone)
        time_mod.tzset()
        etags.append(make(folder, NAMES).etag)
    monkeypatch.delenv("TZ")
    time_mod.tzset()
    assert etags[0] != etags[1]
