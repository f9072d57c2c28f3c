"""Bundles from stores that are not this disk, against real servers: pgcontents on a
PostgreSQL cluster of the run's own (notebook 6), s3contents on a SeaweedFS S3 server
(nbclassic), and hybridcontents mixing a folder on disk with S3 (nbclassic). The files
go in through the REST API, as a user's uploads do, and come back in the bundle."""

import base64
import hashlib
import json
import os
import subprocess
import threading
import time
import zipfile

import nbformat
import psutil
import pytest
import requests
from harness import url_path, wait_until
from storage import put_dir, put_file, put_notebook

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)
CSV = "x,ÿ\n1,2\n".encode()
MARKDOWN = (
    "![a](img/a%20b.png) [d](data.csv) [f](folder) [s](.secret.txt) [h](.hid/key.txt) "
    "[m](missing.csv) [o](../../etc/passwd) [e](/etc/hostname)"
)
INCLUDE = ["glob/**/*.txt"]
EXPECTED_FILES = {
    "img/a b.png": PNG,
    "data.csv": CSV,
    "folder/one.txt": b"one",
    "folder/sub/two.txt": "twö".encode(),
    "glob/g1.txt": b"g1",
    "glob/x/g2.txt": b"g2",
}
EXPECTED_SKIPS = {
    ".secret.txt": "hidden",
    ".hid/key.txt": "hidden",
    "missing.csv": "missing",
    "../../etc/passwd": "outside-root",
    "/etc/hostname": "outside-root",
}


def bundle_url(server, path, route="ours", **query):
    prefix = "nbext_pkg/bundle/" if route == "ours" else "bundle/"
    q = dict(query)
    if route == "stock":
        q["bundler"] = "nbext_pkg_bundle"
    return server.url + prefix + url_path(path), q


def fetch(server, path, route="ours", **query):
    url, params = bundle_url(server, path, route, **query)
    return server.http.get(url, params=params, timeout=300)


def open_bundle(data, tmp_path):
    """The bundle's members {name below its top folder: bytes}, after `unzip -t`."""
    archive = tmp_path / f"b{time.monotonic_ns()}.zip"
    archive.write_bytes(data)
    subprocess.run(["unzip", "-tq", str(archive)], check=True, capture_output=True)
    with zipfile.ZipFile(archive) as zf:
        return {name.split("/", 1)[1]: zf.read(name) for name in zf.namelist()}


def skipped(members):
    manifest = json.loads(members["MANIFEST.json"])
    return {e["reference"]: e["reason"] for e in manifest["skipped"]}, manifest


def upload_work(server, folder="work", secret=b"SECRET-IN-STORE"):
    """The notebook of the storage tests and the files it names, put in through the API."""
    for d in (
        folder,
        f"{folder}/img",
        f"{folder}/folder",
        f"{folder}/folder/sub",
        f"{folder}/glob",
        f"{folder}/glob/x",
        f"{folder}/.hid",
    ):
        put_dir(server, d)
    for name, data in EXPECTED_FILES.items():
        put_file(server, f"{folder}/{name}", data)
    put_file(server, f"{folder}/glob/x/not.csv", b"not me")
    put_file(server, f"{folder}/.secret.txt", secret)
    put_file(server, f"{folder}/.hid/key.txt", secret)
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell(MARKDOWN), nbformat.v4.new_code_cell("import json")]
    )
    nb.metadata["nbext_pkg"] = {"include": INCLUDE}
    put_notebook(server, f"{folder}/an alysis.ipynb", json.loads(nbformat.writes(nb)))
    return nb


@pytest.fixture(scope="module", params=["pgcontents", "s3contents", "hybrid"])
def store(request, session_storage_server):
    server = session_storage_server(request.param)
    server.kind = request.param
    upload_work(server)
    return server


def test_every_reference_comes_through_the_store_by_the_disk_rules(store, tmp_path):
    for route in ("ours", "stock"):  # nbext_pkg answers <base_url>/bundle/ on nbclassic too
        response = fetch(store, "work/an alysis.ipynb", route)
        assert response.status_code == 200, (response.text, store.log_text()[-4000:])
        members = open_bundle(response.content, tmp_path)
        for name, data in EXPECTED_FILES.items():
            assert members[name] == data, name
        assert set(members) == set(EXPECTED_FILES) | {
            "an alysis.ipynb",
            "an alysis.html",
            "requirements.txt",
            "runtime.txt",
            "MANIFEST.json",
        }
        reasons, manifest = skipped(members)
        assert reasons == EXPECTED_SKIPS
        assert (
            manifest["storage"]
            == {
                "pgcontents": "PostgresContentsManager",
                "s3contents": "S3ContentsManager",
                "hybrid": "HybridContentsManager",
            }[store.kind]
        )
        assert "files_note" not in manifest
        listed = {e["path"]: e for e in manifest["files"]}
        for name, data in EXPECTED_FILES.items():
            assert listed[name]["sha256"] == hashlib.sha256(data).hexdigest()
            assert listed[name]["size"] == len(data)
        # The HTML copy shows the image read from the store, offline.
        page = members["an alysis.html"].decode()
        assert f"data:image/png;base64,{base64.b64encode(PNG).decode()}" in page
        assert not any(b"SECRET-IN-STORE" in data for data in members.values())


def test_a_hybrid_manager_reads_its_disk_folder_by_the_disk_rules(session_storage_server, tmp_path):
    server = session_storage_server("hybrid")
    local = server.local_root
    (local / "pics").mkdir()
    (local / "pics" / "p.png").write_bytes(PNG)
    (tmp_path / "outside.txt").write_bytes(b"SECRET-OUTSIDE")
    (local / "link.txt").symlink_to(tmp_path / "outside.txt")
    (local / "pics" / "out").symlink_to(tmp_path)
    put_file(server, "s3.txt", b"from s3")
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(
                "![p](local/pics/p.png) [s](s3.txt) [l](local/link.txt) [all](local/pics)"
            )
        ]
    )
    put_notebook(server, "mixed.ipynb", json.loads(nbformat.writes(nb)))
    response = fetch(server, "mixed.ipynb")
    assert response.status_code == 200, response.text
    members = open_bundle(response.content, tmp_path)
    reasons, manifest = skipped(members)
    assert members["local/pics/p.png"] == PNG and members["s3.txt"] == b"from s3"
    assert reasons == {"local/link.txt": "symlink-outside-root"}
    storage = {e["path"]: e.get("storage") for e in manifest["files"]}
    assert storage["local/pics/p.png"] == "FileContentsManager"
    assert storage["s3.txt"] == "S3ContentsManager"
    assert not any(b"SECRET-OUTSIDE" in data for data in members.values())
    # The notebook itself, kept on disk, obeys the disk's rules too.
    (local / "out.ipynb").symlink_to(tmp_path / "elsewhere.ipynb")
    nbformat.write(nb, str(tmp_path / "elsewhere.ipynb"))
    assert fetch(server, "local/out.ipynb").status_code == 404


@pytest.mark.parametrize("kind", ["pgcontents", "s3contents"])
def test_the_per_file_and_bundle_limits_hold(kind, storage_server, tmp_path):
    """pgcontents gives no sizes (learnt from the content), s3contents does (known
    before the content is asked for): either way the same skips."""
    server = storage_server(
        kind, extra_args=["--NbextPkg.max_contents_file_bytes=300000", "--NbextPkg.max_bundle_bytes=700000"]
    )
    put_dir(server, "d")
    put_file(server, "big.bin", os.urandom(400_000))
    for i in range(4):
        put_file(server, f"d/{i}.bin", os.urandom(200_000))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("[b](big.bin) [d](d)")])
    put_notebook(server, "nb.ipynb", json.loads(nbformat.writes(nb)))
    response = fetch(server, "nb.ipynb", html="0", requirements="0")
    assert response.status_code == 200, response.text
    members = open_bundle(response.content, tmp_path)
    reasons, _ = skipped(members)
    assert reasons.pop("big.bin") == "too-large"
    kept = sorted(name for name in members if name.startswith("d/"))
    assert kept == ["d/0.bin", "d/1.bin", "d/2.bin"]
    # Where the sizes are known the plan cuts the folder; where not, the writer does.
    assert reasons == ({"d": "limit"} if kind == "s3contents" else {"d/3.bin": "limit"})


def test_an_s3_path_that_does_not_exist_is_missing_not_an_empty_file(session_storage_server, tmp_path):
    server = session_storage_server("s3contents")
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("[a](no/such/file.csv) [b](nofile.txt) [c](nodir/)")]
    )
    put_notebook(server, "lonely.ipynb", json.loads(nbformat.writes(nb)))
    # s3contents invents a model for it:
    invented = server.api("GET", "api/contents/nofile.txt", params={"content": "0"})
    members = open_bundle(fetch(server, "lonely.ipynb").content, tmp_path)
    reasons, _ = skipped(members)
    assert reasons == {"no/such/file.csv": "missing", "nofile.txt": "missing", "nodir/": "missing"}, (
        reasons,
        invented.status_code,
    )
    assert set(members) == {"lonely.ipynb", "lonely.html", "requirements.txt", "runtime.txt", "MANIFEST.json"}


class Poller(threading.Thread):
    """GET /api/contents every 20 ms; the slowest answer, and every latency."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server, self.stop, self.latencies = server, threading.Event(), []

    def run(self):
        session = requests.Session()
        session.headers.update(self.server.http.headers)
        while not self.stop.is_set():
            started = time.monotonic()
            response = session.get(self.server.url + "api/contents", params={"content": "0"}, timeout=30)
            assert response.status_code == 200
            self.latencies.append(time.monotonic() - started)
            self.stop.wait(0.02)  # the poll's own rhythm: every 20 ms until told to stop


def rss(server):
    return psutil.Process(server.proc.pid).memory_info().rss


def settled_rss(server):
    """The server's resident memory once it has stopped moving (within 1 MiB over 0.25 s)."""
    last = [rss(server)]

    def steady():
        now, before = rss(server), last[0]
        last[0] = now
        return now if abs(now - before) < 1024 * 1024 else None

    return wait_until(steady, 20, "the server's memory to settle", interval=0.25)


@pytest.fixture(scope="module")
def ten_files(session_storage_server):
    """A pgcontents server holding ten 50 MiB files and a notebook naming their folder."""
    server = session_storage_server("pgcontents")
    put_dir(server, "ten")
    for i in range(10):
        put_file(server, f"ten/{i}.bin", os.urandom(50 * 1024 * 1024))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("[all](ten)")])
    put_notebook(server, "ten.ipynb", json.loads(nbformat.writes(nb)))
    return server


def test_ten_large_files_through_pgcontents_bound_memory_and_keep_the_server_answering(ten_files):
    server = ten_files
    largest = 50 * 1024 * 1024
    for _ in range(3):  # warm: the zygote, pgcontents' first connections
        assert server.api("GET", "api/contents", params={"content": "0"}).status_code == 200
    before = settled_rss(server)
    peak = before
    poller = Poller(server)
    poller.start()
    stop = threading.Event()

    timeline = []

    def sample():
        nonlocal peak
        started = time.monotonic()
        while not stop.is_set():
            now = rss(server)
            peak = max(peak, now)
            timeline.append((round(time.monotonic() - started, 2), (now - before) >> 20))
            stop.wait(0.005)  # a sample every 5 ms until the download ends

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        url, params = bundle_url(server, "ten.ipynb", html="0", requirements="0")
        with server.http.get(url, params=params, stream=True, timeout=300) as response:
            assert response.status_code == 200, response.text
            size = sum(len(chunk) for chunk in response.iter_content(1024 * 1024))
    finally:
        stop.set()
        poller.stop.set()
        sampler.join()
        poller.join()
    assert size > 10 * 49 * 1024 * 1024
    growth = peak - before
    assert growth < 8 * largest, f"peak growth {growth / 2**20:.0f} MiB; MiB over time: {timeline[::10]}"
    after = settled_rss(server)
    assert after - before < 64 * 1024 * 1024, f"{(after - before) / 2**20:.0f} MiB still held"
    # The loop was never held while the manager read: answers kept coming. A 50 MiB
    # file read on the loop holds it about 0.6 s, so a poll waits that long once per
    # file: ten slow answers. A loaded machine (CI runs two suites at once) makes one
    # or two slow answers of its own; the 50 ms target is measured by
    # benchmarks/bundle.py --storage pgcontents, not here.
    assert len(poller.latencies) > 10
    slow = sorted((round(latency, 3) for latency in poller.latencies if latency >= 0.4), reverse=True)
    assert len(slow) <= 2, f"{len(slow)} answers of GET /api/contents took 0.4 s or more: {slow}"


def readers(process):
    """The server's contents_child processes still running."""
    found = []
    for child in process.children(recursive=True):
        try:
            if "contents_child" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def test_a_client_that_leaves_stops_the_reading(ten_files):
    server = ten_files
    process = psutil.Process(server.proc.pid)
    url, params = bundle_url(server, "ten.ipynb", html="0", requirements="0")
    response = server.http.get(url, params=params, stream=True, timeout=300)
    assert response.status_code == 200
    next(response.iter_content(64 * 1024))
    response.close()

    def cpu():
        times = process.cpu_times()
        return times.user + times.system

    # Once it has noticed, the server does nothing more for that bundle: its CPU use
    # between two looks a second apart falls near zero long before ten files would
    # have been read.
    last = [cpu()]

    def idle():
        now, before = cpu(), last[0]
        last[0] = now
        return now - before < 0.1

    wait_until(idle, 15, "the server to stop reading after the client left", interval=1)
    assert server.api("GET", "api/contents").status_code == 200
    wait_until(
        lambda: "the bundle's worker has stopped" in server.log_text(),
        10,
        "the server to say the bundle's worker stopped",
    )
    wait_until(lambda: not readers(process), 10, "the bundle's reading process to end")


def test_saving_through_the_store_still_works_and_is_bundled(store, tmp_path):
    """pgcontents on SQLAlchemy 1.3 overwrites, s3contents writes: the next bundle has
    the notebook as saved last."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 'saved twice'")])
    for _ in range(2):
        model = put_notebook(store, "work/an alysis.ipynb", json.loads(nbformat.writes(nb)))
        assert model["type"] == "notebook"
    members = open_bundle(fetch(store, "work/an alysis.ipynb", html="0").content, tmp_path)
    saved = nbformat.reads(members["an alysis.ipynb"].decode(), as_version=4)
    assert saved.cells[0].source == "x = 'saved twice'"
