"""A bundle of known length over HTTP, against the real servers: Content-Length, HEAD,
ETag, Range, If-Range and 416, resumed downloads byte for byte (by requests and by
curl -C -), and inputs that change between two requests."""

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import threading
import time
import zipfile
import zlib

import nbformat
import pytest
from harness import NotebookServer, url_path, wait_until

FOLDER = "ranges ü"


def write_nb(path, markdown):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(markdown)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


@pytest.fixture
def project(server, request):
    base = server.root / FOLDER / request.node.name.replace("/", "_")
    shutil.rmtree(base, ignore_errors=True)
    (base / "data").mkdir(parents=True)
    (base / "data" / "noise.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    (base / "data" / "table.csv").write_text("".join(f"{i},{i * 7 % 13}\n" for i in range(30000)))
    (base / "data" / "more").mkdir()
    (base / "data" / "more" / "a.txt").write_text("a" * 5000)
    (base / "data" / "pic.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(20000))
    write_nb(base / "nb.ipynb", "[n](data/noise.bin) [t](data/table.csv) [m](data/more) ![p](data/pic.png)")
    yield base
    shutil.rmtree(base, ignore_errors=True)


def url(base, fmt="zip", route="ours"):
    rel = f"{base.parent.name}/{base.name}/nb.ipynb"
    if route == "stock":
        return f"bundle/{url_path(rel)}?bundler=nbext_pkg_bundle" + ("" if fmt == "zip" else f"&format={fmt}")
    return f"nbext_pkg/bundle/{url_path(rel)}?format={fmt}"


def fetch(server, path, method="GET", headers=None, expect=None):
    response = server.api(method, path, headers=headers or {}, timeout=120)
    if expect is not None:
        assert response.status_code == expect, response.text
    return response


def digest(data):
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("fmt, route", [("zip", "ours"), ("tar", "ours"), ("zip", "stock")])
def test_the_length_is_known_and_head_says_the_same(server, project, fmt, route):
    head = fetch(server, url(project, fmt, route), "HEAD", expect=200)
    full = fetch(server, url(project, fmt, route), expect=200)
    assert int(full.headers["Content-Length"]) == len(full.content)
    assert "chunked" not in full.headers.get("Transfer-Encoding", "")
    assert head.content == b""
    for name in ("Content-Length", "Content-Type", "Content-Disposition", "ETag", "Accept-Ranges"):
        assert head.headers[name] == full.headers[name], name
    assert full.headers["Accept-Ranges"] == "bytes"
    assert full.headers["ETag"].startswith('"') and not full.headers["ETag"].startswith("W/")
    if fmt == "zip":
        with zipfile.ZipFile(io.BytesIO(full.content)) as zf:
            assert zf.testzip() is None
            assert zf.read("nb/data/noise.bin") == (project / "data" / "noise.bin").read_bytes()
    else:
        assert full.headers["Content-Type"] == "application/x-tar"
        with tarfile.open(fileobj=io.BytesIO(full.content)) as tf:
            assert tf.extractfile("nb/data/table.csv").read() == (project / "data" / "table.csv").read_bytes()
    # The same inputs, the same bytes.
    again = fetch(server, url(project, fmt, route), expect=200)
    assert again.headers["ETag"] == full.headers["ETag"] and digest(again.content) == digest(full.content)


def test_tar_gz_is_streamed_without_a_length(server, project):
    response = fetch(server, url(project, "tar.gz"), expect=200)
    assert "Content-Length" not in response.headers
    assert response.headers["Accept-Ranges"] == "none"
    ranged = fetch(server, url(project, "tar.gz"), headers={"Range": "bytes=100-"}, expect=200)
    tarfile.open(fileobj=io.BytesIO(ranged.content), mode="r:gz").getnames()


def offsets_of(data):
    """Offsets worth resuming at: inside a stored file, inside a deflated one, inside the
    central directory, the last byte."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        start_dir = zf.start_dir

    def data_at(info):
        at = info.header_offset
        name_len = int.from_bytes(data[at + 26 : at + 28], "little")
        extra_len = int.from_bytes(data[at + 28 : at + 30], "little")
        return at + 30 + name_len + extra_len

    stored, deflated = infos["nb/data/noise.bin"], infos["nb/data/table.csv"]
    assert stored.compress_type == zipfile.ZIP_STORED and deflated.compress_type == zipfile.ZIP_DEFLATED
    return {
        "stored": data_at(stored) + stored.compress_size // 2,
        "deflated": data_at(deflated) + 10,
        "central directory": start_dir + 30,
        "last byte": len(data) - 1,
    }


@pytest.mark.parametrize("route", ["ours", "stock"])
def test_a_resumed_download_is_the_uninterrupted_one(server, project, route):
    full = fetch(server, url(project, "zip", route), expect=200)
    etag, whole = full.headers["ETag"], full.content
    for where, offset in offsets_of(whole).items():
        part = fetch(
            server,
            url(project, "zip", route),
            expect=206,
            headers={"Range": f"bytes={offset}-", "If-Range": etag},
        )
        assert part.headers["Content-Range"] == f"bytes {offset}-{len(whole) - 1}/{len(whole)}", where
        assert int(part.headers["Content-Length"]) == len(part.content) == len(whole) - offset
        assert digest(whole[:offset] + part.content) == digest(whole), where


def test_ranges_with_an_end_and_from_the_end(server, project):
    full = fetch(server, url(project), expect=200).content
    middle = fetch(server, url(project), headers={"Range": "bytes=1000-1999"}, expect=206)
    assert middle.content == full[1000:2000]
    assert middle.headers["Content-Range"] == f"bytes 1000-1999/{len(full)}"
    tail = fetch(server, url(project), headers={"Range": "bytes=-500"}, expect=206)
    assert tail.content == full[-500:]
    past_end = fetch(server, url(project), headers={"Range": f"bytes=10-{len(full) + 999}"}, expect=206)
    assert past_end.content == full[10:]
    # Several ranges at once, or another unit: the whole bundle.
    assert fetch(server, url(project), headers={"Range": "bytes=0-1,5-6"}, expect=200).content == full
    assert fetch(server, url(project), headers={"Range": "items=0-1"}, expect=200).content == full


def test_a_range_past_the_end_is_416(server, project):
    length = int(fetch(server, url(project), "HEAD", expect=200).headers["Content-Length"])
    for spec in (f"bytes={length}-", f"bytes={length + 10}-{length + 20}", "bytes=-0"):
        response = fetch(server, url(project), headers={"Range": spec}, expect=416)
        assert response.headers["Content-Range"] == f"bytes */{length}"
        assert "ask for a range that starts inside it" in response.json()["message"]
    assert fetch(server, "nbext_pkg/api/status", expect=200)


def change_file(base):
    with open(base / "data" / "noise.bin", "r+b") as f:
        f.write(b"changed")


def add_file(base):
    (base / "data" / "more" / "b.txt").write_text("new")


def remove_file(base):
    (base / "data" / "more" / "a.txt").unlink()


def touch_notebook(base):
    nb = nbformat.read(str(base / "nb.ipynb"), as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("more"))
    nbformat.write(nb, str(base / "nb.ipynb"))


@pytest.mark.parametrize("change", [change_file, add_file, remove_file, touch_notebook])
def test_a_changed_input_gets_the_whole_new_bundle(server, project, change):
    first = fetch(server, url(project), expect=200)
    change(project)
    resumed = fetch(
        server,
        url(project),
        expect=200,
        headers={"Range": f"bytes={len(first.content) // 2}-", "If-Range": first.headers["ETag"]},
    )
    assert resumed.headers["ETag"] != first.headers["ETag"]
    assert int(resumed.headers["Content-Length"]) == len(resumed.content)
    with zipfile.ZipFile(io.BytesIO(resumed.content)) as zf:
        assert zf.testzip() is None
        names = set(zf.namelist())
        manifest = json.loads(zf.read("nb/MANIFEST.json"))
    assert ("nb/data/more/b.txt" in names) == (change is add_file)
    assert ("nb/data/more/a.txt" in names) == (change is not remove_file)
    assert {f["path"] for f in manifest["files"]} | {"MANIFEST.json"} == {n[3:] for n in names}
    if change is change_file:
        now = (project / "data" / "noise.bin").read_bytes()
        assert zf_member(resumed.content, "nb/data/noise.bin") == now


def zf_member(data, name):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.read(name)


def test_if_range_with_a_date_or_another_etag_gets_all_of_it(server, project):
    full = fetch(server, url(project), expect=200).content
    for validator in ('"nbx-0000"', "Tue, 01 Dec 2026 10:00:00 GMT", "W/" + '"x"'):
        response = fetch(
            server, url(project), headers={"Range": "bytes=100-", "If-Range": validator}, expect=200
        )
        assert response.content == full


def test_curl_resumes_a_cut_download(server, project, tmp_path):
    full = fetch(server, url(project), expect=200).content
    target = tmp_path / "bundle.zip"
    # The first download is cut by the client after 1 MiB and a bit: that much is on disk.
    with server.api("GET", url(project), stream=True, expect=200) as first:
        target.write_bytes(first.raw.read(1024 * 1024 + 777))
    cut = target.stat().st_size
    assert 0 < cut < len(full)
    common = ["curl", "-sS", "-H", f"Authorization: token {server.token}", "-o", str(target)]
    done = subprocess.run(
        common + ["-C", "-", "-w", "%{http_code}", server.url + url(project)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "206"
    assert digest(target.read_bytes()) == digest(full)


class RangeFile(io.RawIOBase):
    """A read-only, seekable view of the bundle at ``path``: each read is a Range request."""

    def __init__(self, server, path, length, etag):
        self.server, self.path, self.length, self.etag, self.at = server, path, length, etag, 0

    def seekable(self):
        return True

    def readable(self):
        return True

    def seek(self, offset, whence=0):
        self.at = {0: offset, 1: self.at + offset, 2: self.length + offset}[whence]
        return self.at

    def tell(self):
        return self.at

    def read(self, n=-1):
        end = self.length if n is None or n < 0 else min(self.at + n, self.length)
        if end <= self.at:
            return b""
        got = fetch(
            self.server,
            self.path,
            headers={"Range": f"bytes={self.at}-{end - 1}", "If-Range": self.etag},
            expect=206,
        ).content
        self.at += len(got)
        return got


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def big_server(jupyter_env, tmp_path):
    """A server that allows bundles of 8 GiB (the default limit is 2 GiB). One flavour:
    the bytes are made by the same code on both, and 5 GiB take half a minute."""
    (tmp_path / "root").mkdir()
    srv = NotebookServer(
        jupyter_env,
        tmp_path / "root",
        flavour="nbclassic",
        base_url="/big/",
        extra_args=["--NbextPkg.max_bundle_bytes=8589934592"],
    ).start()
    yield srv
    srv.stop()


def test_five_gib_download_resumes_from_the_middle_and_verifies(big_server):
    server = big_server
    base = server.root / FOLDER / "five gib"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    size = 5 * 1024**3 + 12345
    with open(base / "huge.bin", "wb") as f:
        f.truncate(size)  # sparse: zeros, no disk
    write_nb(base / "nb.ipynb", "[huge](huge.bin)")
    path = url(base)
    try:
        with open(f"/proc/{server.proc.pid}/clear_refs", "w") as f:
            f.write("5")
        before = rss_mib(server.proc.pid)
        # One whole download; the bytes up to the middle are those a client cut off
        # there would have had (the stream is the same each time: the ETag says so),
        # so the resumed rest is checked against the whole from its CRC at the middle.
        whole = at_half = 0
        with server.http.get(server.url + path, stream=True, timeout=600) as response:
            assert response.status_code == 200
            length, etag = int(response.headers["Content-Length"]), response.headers["ETag"]
            assert length > size
            half = length // 2
            got = 0
            for block in response.iter_content(4 * 1024 * 1024):
                if got <= half < got + len(block):
                    at_half = zlib.crc32(block[: half - got], whole)
                whole = zlib.crc32(block, whole)
                got += len(block)
        assert got == length
        # A client that stopped reading (here after its first block; the bytes up to
        # the middle are checked above) asks for the rest from the middle, inside
        # the stored file, with If-Range.
        with server.http.get(server.url + path, stream=True, timeout=600) as first:
            assert first.status_code == 200 and first.headers["ETag"] == etag
            next(first.iter_content(64 * 1024))
        resumed = at_half
        with server.http.get(
            server.url + path, stream=True, timeout=600, headers={"Range": f"bytes={half}-", "If-Range": etag}
        ) as rest:
            assert rest.status_code == 206
            assert rest.headers["Content-Range"] == f"bytes {half}-{length - 1}/{length}"
            for block in rest.iter_content(4 * 1024 * 1024):
                resumed = zlib.crc32(block, resumed)
        assert resumed == whole
        # The central directory, read through ranges: zip64 sizes and the CRC of 5 GiB of zeros.
        with zipfile.ZipFile(RangeFile(server, path, length, etag)) as zf:
            info = zf.getinfo("nb/huge.bin")
            assert info.file_size == size and info.compress_type == zipfile.ZIP_STORED
            zeros, crc, left = bytes(64 * 1024 * 1024), 0, size
            while left:
                crc = zlib.crc32(zeros[: min(left, len(zeros))], crc)
                left -= min(left, len(zeros))
            assert info.CRC == crc
            manifest = json.loads(zf.read("nb/MANIFEST.json"))
            listed = {f["path"]: f["size"] for f in manifest["files"]}
            assert listed["huge.bin"] == size
        # Nothing of the file was held in memory (a loose bound: the targets are in benchmarks/).
        assert rss_mib(server.proc.pid) - before < 256
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_range_syntax_is_read_as_the_rfc_writes_it(server, project):
    full = fetch(server, url(project), expect=200).content
    assert fetch(server, url(project), headers={"Range": "b y t e s=5-9"}, expect=200).content == full
    assert fetch(server, url(project), headers={"Range": "BYTES=5-9"}, expect=206).content == full[5:10]


def test_a_notebook_from_1970_keeps_its_etag(server, project):
    os.utime(project / "nb.ipynb", (0, 0))
    first = fetch(server, url(project), "HEAD", expect=200).headers["ETag"]
    asked = time.time()
    # Past the second that the manifest's "created" would show, were it "now".
    wait_until(lambda: time.time() > asked + 1.1, 5, "a second to pass")
    assert fetch(server, url(project), "HEAD", expect=200).headers["ETag"] == first


def test_a_failure_before_the_first_byte_takes_back_the_download_cookie(server, project):
    """The page takes the cookie for the download's start: an error must not carry it."""
    blob = project / "data" / "noise.bin"
    stop = threading.Event()

    def keep_touching():  # the file changes between the plan and its turn
        n = 0
        while not stop.is_set():
            n += 1
            os.utime(blob, ns=(n, n))

    toucher = threading.Thread(target=keep_touching, daemon=True)
    toucher.start()
    try:
        for _ in range(20):
            response = fetch(server, url(project, "tar") + "&download_token=abcdefgh1234")
            if response.status_code == 500:
                break
    finally:
        stop.set()
        toucher.join()
    assert response.status_code == 500, response.status_code
    assert "changed after the tar's header announced it" in response.json()["message"]
    cookie = response.headers.get("Set-Cookie", "")
    assert "nbext_pkg_download=abcdefgh1234" not in cookie
    assert "nbext_pkg_download=" in cookie and ("Max-Age=0" in cookie or "expires=" in cookie)
    ok = fetch(server, url(project, "tar") + "&download_token=abcdefgh1234", expect=200)
    assert "nbext_pkg_download=abcdefgh1234" in ok.headers["Set-Cookie"]
