"""archive.py, plan.py and manifest.py without a server."""

import io
import json
import os
import tarfile
import zipfile

import pytest

from nbext_pkg.bundlers import archive, manifest
from nbext_pkg.bundlers.paths import resolve
from nbext_pkg.bundlers.plan import OverLimit, make_plan
from nbext_pkg.bundlers.respond import content_disposition, local_root
from nbext_pkg.bundlers.sources import CheckedFile, LocalFiles


def add_path(writer, arcname, path):
    """Add the file at ``path`` as the pipeline does: found, then opened as found."""
    (item,) = resolve(os.path.dirname(path), "", os.path.basename(path), False)
    files = LocalFiles(os.path.realpath(os.path.dirname(path)))
    with files.open(item) as checked:
        result = writer.add_file(arcname, checked, item.mtime_ns / 1e9)
    files.close()
    return result


def notebook(*markdown, code=()):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": m} for m in markdown]
    cells += [
        {"cell_type": "code", "metadata": {}, "source": c, "outputs": [], "execution_count": None}
        for c in code
    ]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


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


def test_layout_is_rooted_at_the_deepest_common_folder(tmp_path):
    (tmp_path / "work" / "notebooks").mkdir(parents=True)
    (tmp_path / "work" / "data").mkdir()
    (tmp_path / "work" / "data" / "x.csv").write_text("1")
    plan = make_plan(notebook("[x](../data/x.csv)"), "work/notebooks/nb.ipynb", str(tmp_path))
    assert plan.top == "nb"
    assert plan.notebook_arcname == "notebooks/nb.ipynb"
    assert plan.html_arcname == "notebooks/nb.html"
    assert [(e.rel, e.arcname) for e in plan.files] == [("work/data/x.csv", "data/x.csv")]


def test_limits_name_the_limit_and_the_size(tmp_path):
    (tmp_path / "big.bin").write_bytes(b"x" * 5000)
    with pytest.raises(OverLimit, match=r"4.9 KiB of files, more than the server's limit of 1000 bytes"):
        make_plan(notebook("[b](big.bin)"), "nb.ipynb", str(tmp_path), max_bytes=1000)
    for i in range(3):
        (tmp_path / f"f{i}.txt").write_text("x")
    with pytest.raises(OverLimit, match=r"3 files, more than the server's limit of 2"):
        make_plan(notebook("[a](f0.txt) [b](f1.txt) [c](f2.txt)"), "nb.ipynb", str(tmp_path), max_files=2)


def test_folder_references_stop_at_the_limit(tmp_path):
    (tmp_path / "many").mkdir()
    for i in range(5):
        (tmp_path / "many" / f"{i}.txt").write_text("x" * 10)
    plan = make_plan(notebook("[all](many)"), "nb.ipynb", str(tmp_path), max_files=3)
    assert [e.rel for e in plan.files] == ["many/0.txt", "many/1.txt", "many/2.txt"]
    assert plan.skipped == [{"reference": "many", "reason": "limit"}]


def test_a_link_to_a_huge_folder_is_not_walked_to_the_end(tmp_path):
    from nbext_pkg.bundlers.paths import resolve

    for d in range(20):
        (tmp_path / "huge" / f"d{d:02}").mkdir(parents=True)
        for i in range(50):
            (tmp_path / "huge" / f"d{d:02}" / f"{i}.txt").write_text("x")
    assert len(resolve(str(tmp_path), "", "huge", False, cap=10)) == 11
    assert len(resolve(str(tmp_path), "", "huge", False)) == 1000
    plan = make_plan(notebook("[everything](.)"), "nb.ipynb", str(tmp_path), max_files=10)
    assert len(plan.files) == 10 and plan.skipped == [{"reference": ".", "reason": "limit"}]


def test_a_notebook_without_a_place_for_its_files_lists_them_as_not_looked_for():
    from nbext_pkg.bundlers.contents import Nowhere

    plan = make_plan(notebook("[x](x.csv)"), "nb.ipynb", Nowhere())
    assert plan.files == [] and plan.skipped == [{"reference": "x.csv", "reason": "not-looked-for"}]
    text = manifest.manifest("0", plan.notebook_arcname, notebook(), [], plan.skipped, storage="Mem")
    assert json.loads(text)["storage"] == "Mem" and "files_note" not in text

    class RemoteContents:
        root_dir = "/"

    assert local_root(RemoteContents()) is None


@pytest.mark.parametrize(
    "name, header",
    [
        ("plain.zip", "attachment; filename=\"plain.zip\"; filename*=UTF-8''plain.zip"),
        (
            'résumé "x".zip',
            "attachment; filename=\"r_sum_ _x_.zip\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22x%22.zip",
        ),
    ],
)
def test_download_names_survive_proxies(name, header):
    assert content_disposition(name) == header


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
