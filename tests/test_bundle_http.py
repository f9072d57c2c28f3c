"""The notebook bundle over HTTP, against the real server: both routes, the
layout and manifest of what arrives, every error status, limits, hidden files,
symlinks, and a client that leaves mid-download."""

import base64
import hashlib
import io
import json
import os
import platform
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from urllib.parse import quote

import nbformat
import pytest
from harness import NotebookServer, url_path

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)
PROJECT = "proj #1 ünï"
NB_NAME = "analyse %d ?é.ipynb"
NB_PATH = f"{PROJECT}/notebooks/{NB_NAME}"
MARKDOWN = """# Analysis
![plot](../images/plot%201.png "a plot")
[the data](../data/x.csv?raw=1#top) and [ref style][r]
<img src="../images/small.png"> [outside](../../../etc/passwd) [abs](/etc/passwd)
[away](away.txt) [hidden](../.secret/key.txt) [gone](missing.csv) [web](https://example.org/x.png)
[linked](inside-link.csv) [folder](../folder)

[r]: ../data/y.json
"""


@pytest.fixture(scope="module")
def project(notebook_root):
    base = notebook_root / PROJECT
    (base / "notebooks").mkdir(parents=True)
    (base / "images").mkdir()
    (base / "data").mkdir()
    (base / ".secret").mkdir()
    (base / "folder" / "sub").mkdir(parents=True)
    (base / "images" / "plot 1.png").write_bytes(PNG)
    (base / "images" / "small.png").write_bytes(PNG)
    (base / "data" / "x.csv").write_text("a,b\n1,2\n" * 1000)
    (base / "data" / "y.json").write_text('{"y": 1}')
    (base / ".secret" / "key.txt").write_text("secret")
    (base / "folder" / "one.txt").write_text("one")
    (base / "folder" / "sub" / "two.txt").write_text("two")
    (base / "notebooks" / "away.txt").symlink_to("/etc/hostname")
    (base / "notebooks" / "inside-link.csv").symlink_to(base / "data" / "x.csv")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(MARKDOWN),
        nbformat.v4.new_code_cell(
            "import os\nimport nbformat\nfrom tornado import web\n"
            "%matplotlib inline\n!ls\nimport not_a_real_module_xyz"
        ),
    ]
    nbformat.write(nb, str(base / "notebooks" / NB_NAME))
    (base / "notebooks" / "broken.ipynb").write_text("{ this is not json")
    return base


def get(server, route, path, fmt="zip", **kwargs):
    if route == "stock":
        url = f"bundle/{url_path(path)}?bundler=nbext_pkg_bundle" + ("" if fmt == "zip" else f"&format={fmt}")
    else:
        url = f"nbext_pkg/bundle/{url_path(path)}?format={quote(fmt)}"
    return server.api("GET", url, **kwargs)


def snapshot(folder):
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in Path(folder).rglob("*") if p.is_file()}


def extract(content, fmt, dest):
    if fmt == "zip":
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            zf.extractall(dest)
    else:
        with tarfile.open(fileobj=io.BytesIO(content), mode="r:gz") as tf:
            tf.extractall(dest, filter="data")
    (top,) = list(Path(dest).iterdir())
    return top


@pytest.mark.parametrize("route, fmt", [("stock", "zip"), ("ours", "zip"), ("ours", "tar.gz")])
def test_bundle_layout_manifest_and_safety(server, project, tmp_path, route, fmt):
    # nbclassic has no /bundle/ route of its own: nbext_pkg's serves the stock URL there too.
    response = get(server, route, NB_PATH, fmt)
    assert response.status_code == 200, response.text
    stem = NB_NAME[: -len(".ipynb")]
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="{stem.replace("é", "_")}.{fmt}"; '
        f"filename*=UTF-8''{quote(stem + '.' + fmt, safe='')}"
    )
    top = extract(response.content, fmt, tmp_path / "out")
    assert top.name == stem
    manifest = json.loads((top / "MANIFEST.json").read_text())
    assert manifest["notebook"] == f"notebooks/{NB_NAME}"
    assert manifest["kernelspec"]["name"] == "python3"
    assert manifest["generator"]["name"] == "nbext_pkg"
    paths = sorted(f["path"] for f in manifest["files"])
    assert paths == sorted(
        [
            f"notebooks/{NB_NAME}",
            f"notebooks/{stem}.html",
            "requirements.txt",
            "runtime.txt",
            "images/plot 1.png",
            "images/small.png",
            "data/x.csv",
            "data/y.json",
            "notebooks/inside-link.csv",
            "folder/one.txt",
            "folder/sub/two.txt",
        ]
    )
    for entry in manifest["files"]:
        data = (top / entry["path"]).read_bytes()
        assert len(data) == entry["size"] and hashlib.sha256(data).hexdigest() == entry["sha256"]
    skipped = {s["reference"]: s["reason"] for s in manifest["skipped"]}
    assert skipped == {
        "../../../etc/passwd": "outside-root",
        "/etc/passwd": "outside-root",
        "away.txt": "symlink-outside-root",
        "../.secret/key.txt": "hidden",
        "missing.csv": "missing",
    }
    # Relative references work after extraction as they did on the server.
    nb_dir = top / "notebooks"
    for ref in ("../images/plot 1.png", "../data/x.csv", "../data/y.json", "inside-link.csv"):
        assert (nb_dir / ref).read_bytes() == (project / "notebooks" / ref).read_bytes()
    assert not (nb_dir / "inside-link.csv").is_symlink()
    requirements = (top / "requirements.txt").read_text()
    assert f"nbformat=={nbformat.__version__}" in requirements
    assert "tornado==" in requirements and "\nos" not in requirements
    assert "# not_a_real_module_xyz: imported, but no installed distribution provides it" in requirements
    # The notebook's kernelspec, python3, starts the server's own interpreter (as the kernel
    # manager decides): that one is asked, and says which Python it is.
    assert manifest["requirements_from"] == "kernel" and manifest["requirements_kernelspec"] == "python3"
    assert (top / "runtime.txt").read_text() == "python-{}.{}\n".format(*sys.version_info[:2])
    assert manifest["python"]["version"] == platform.python_version()
    assert manifest["generated"]["runtime"] == "runtime.txt"
    html = (nb_dir / f"{stem}.html").read_text()
    # Both images the plan accepted are embedded (the template has data URIs of its own).
    assert html.count("data:image/png;base64," + base64.b64encode(PNG).decode()) == 2


def test_bad_requests_say_what_is_wrong(server, project):
    before = snapshot(project)
    missing = f"{PROJECT}/notebooks/nope.ipynb"
    cases = [
        # Each server's contents manager words it its own way; both name the path.
        (
            missing,
            "zip",
            404,
            f"file or directory does not exist: '{missing}'"
            if server.flavour == "notebook"
            else f"No such file or directory: {missing}",
        ),
        (f"{PROJECT}/data/x.csv", "zip", 400, f"{PROJECT}/data/x.csv is not a notebook"),
        (f"{PROJECT}/notebooks/broken.ipynb", "zip", 400, "Unreadable Notebook"),
        (
            NB_PATH,
            "rar",
            400,
            "Unknown bundle format 'rar': ask for format=zip, format=tar or format=tar.gz.",
        ),
    ]
    for path, fmt, status, words in cases:
        response = get(server, "ours", path, fmt)
        assert response.status_code == status, (path, response.text)
        assert words in response.json()["message"]
    # The stock URL refuses the same way on both servers (nbext_pkg serves it on nbclassic too).
    stock = get(server, "stock", f"{PROJECT}/data/x.csv")
    assert stock.status_code == 400 and f"{PROJECT}/data/x.csv is not a notebook" in stock.json()["message"]
    assert snapshot(project) == before
    assert server.api("GET", "api/contents", expect=200)


@pytest.fixture(scope="module")
def small_server(jupyter_env, notebook_root, flavour):
    srv = NotebookServer(
        jupyter_env,
        notebook_root,
        flavour=flavour,
        extra_args=["--NbextPkg.max_bundle_files=3", "--NbextPkg.max_bundle_bytes=20000"],
    ).start()
    yield srv
    srv.stop()


def test_limits_refuse_before_the_first_byte(small_server, project):
    response = get(small_server, "ours", NB_PATH)
    assert response.status_code == 413
    message = response.json()["message"]
    assert "more than the server's limit" in message and "c.NbextPkg.max_bundle_" in message


def notebook_with_a_blob(folder, name, mib):
    """``folder/name``: a notebook linking to ``blob.bin``, ``mib`` MiB of random bytes."""
    folder.mkdir()
    (folder / "blob.bin").write_bytes(os.urandom(mib * 1024 * 1024))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("[blob](blob.bin)")]
    nbformat.write(nb, str(folder / name))


def test_a_client_that_leaves_stops_the_worker(server, notebook_root):
    notebook_with_a_blob(notebook_root / "big one", "big.ipynb", 48)
    log_start = len(server.log_text())
    response = get(server, "ours", "big one/big.ipynb", stream=True)
    assert response.status_code == 200
    next(response.iter_content(64 * 1024))
    response.close()
    from harness import wait_until

    wait_until(
        lambda: "the bundle's worker has stopped" in server.log_text()[log_start:],
        5,
        "the server to notice the client left",
    )
    assert server.api("GET", "api/status", expect=200)


def test_four_downloads_at_once_while_the_api_answers(server, notebook_root, tmp_path):
    """A bounded load on 127.0.0.1: four bundles at once, all intact, and the
    REST API answering all along. (Their timing is measured by benchmarks/bundle.py.)"""
    import threading

    folder = notebook_root / "load test"
    (folder / "data").mkdir(parents=True)
    for i in range(3):
        (folder / "data" / f"blob{i}.bin").write_bytes(os.urandom(8 * 1024 * 1024))
    for i in range(40):
        (folder / "data" / f"t{i}.csv").write_text(f"{i},x\n" * 2000)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("[all the data](data)")]
    nbformat.write(nb, str(folder / "load.ipynb"))

    results, probes, stop = [None] * 4, [], threading.Event()

    def fetch(i):
        results[i] = get(server, "ours", "load test/load.ipynb", timeout=120)

    def probe():
        while not stop.is_set() and len(probes) < 2000:
            probes.append(server.api("GET", "api/contents", timeout=30).status_code)
            stop.wait(0.02)

    prober = threading.Thread(target=probe)
    prober.start()
    workers = [threading.Thread(target=fetch, args=(i,)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(180)
    stop.set()
    prober.join(30)

    for i, response in enumerate(results):
        assert response is not None and response.status_code == 200, f"download {i}"
        top = extract(response.content, "zip", tmp_path / str(i))
        manifest = json.loads((top / "MANIFEST.json").read_text())
        data_files = [f for f in manifest["files"] if f["path"].startswith("data/")]
        assert len(data_files) == 43
        for entry in data_files:
            on_server = (folder / entry["path"]).read_bytes()
            assert hashlib.sha256(on_server).hexdigest() == entry["sha256"]
            assert (top / entry["path"]).read_bytes() == on_server
    assert probes and set(probes) == {200}


def test_the_server_still_shuts_down_with_a_download_in_flight(jupyter_env, notebook_root, flavour):
    """A client that stops reading leaves the worker waiting on a full queue;
    stopping the server must not wait for it forever."""
    import signal
    import subprocess

    notebook_with_a_blob(notebook_root / "stalled", "stalled.ipynb", 64)
    srv = NotebookServer(jupyter_env, notebook_root, flavour=flavour).start()
    try:
        response = get(srv, "ours", "stalled/stalled.ipynb", stream=True)
        assert response.status_code == 200
        response.raw.read(64 * 1024)  # then read nothing more, keeping the connection open
        os.killpg(srv.proc.pid, signal.SIGTERM)
        try:
            srv.proc.wait(15)
        except subprocess.TimeoutExpired:
            pytest.fail("the server did not exit within 15 s of SIGTERM while a bundle was stalled")
        response.close()
    finally:
        srv.stop()


def test_a_contents_manager_off_this_disk_is_asked_for_the_files_not_the_disk(jupyter_env, tmp_path, flavour):
    """The notebook comes from the contents manager, and so would its files: files of
    those names in the server's working folder are not read. (This manager keeps
    notebooks only, so the files are missing; tests/test_storage_bundles.py has real
    stores.)"""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("![plot](plot.png) [data](data/x.csv)")]
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"remote/analysis.ipynb": nbformat.writes(nb)}))
    disk = tmp_path / "disk"
    (disk / "remote" / "data").mkdir(parents=True)
    (disk / "remote" / "plot.png").write_bytes(PNG)
    (disk / "remote" / "data" / "x.csv").write_text("a,b\n")
    app, cm = (
        ("NotebookApp", "MemoryContentsManager")
        if flavour == "notebook"
        else ("ServerApp", "ServerMemoryContentsManager")
    )
    srv = NotebookServer(
        jupyter_env,
        disk,
        flavour=flavour,
        extra_args=[f"--{app}.contents_manager_class=memory_contents.{cm}", f"--{cm}.seed={seed}"],
        test_modules=True,
    ).start()
    try:
        for route in ("ours", "stock") if flavour == "notebook" else ("ours",):
            response = get(srv, route, "remote/analysis.ipynb")
            assert response.status_code == 200, response.text
            top = extract(response.content, "zip", tmp_path / route)
            manifest = json.loads((top / "MANIFEST.json").read_text())
            assert sorted(f["path"] for f in manifest["files"]) == [
                "analysis.html",
                "analysis.ipynb",
                "requirements.txt",
                "runtime.txt",
            ]
            assert manifest["storage"] == cm
            assert manifest["skipped"] == [
                {"reference": "plot.png", "reason": "missing"},
                {"reference": "data/x.csv", "reason": "missing"},
            ]
            assert (
                nbformat.reads((top / "analysis.ipynb").read_text(), as_version=4).cells[0].source
                == nb.cells[0].source
            )
            assert not (top / "plot.png").exists() and not (top / "data").exists()
        assert get(srv, "ours", "remote/nope.ipynb").status_code == 404
    finally:
        srv.stop()


def test_nothing_is_served_to_a_client_that_has_not_logged_in(server, project):
    """On jupyter_server, handlers made from notebook 6's classes saw every caller
    as a logged-in "anonymous" user: both routes must refuse one without a token."""
    import requests

    for path in ("nbext_pkg/api/status", f"nbext_pkg/bundle/{url_path(NB_PATH)}?format=zip"):
        response = requests.get(server.url + path, allow_redirects=False, timeout=30)
        assert response.status_code in (302, 403), (path, response.status_code)
        assert response.headers.get("Content-Type") != "application/zip"
        if response.status_code == 302:
            assert "/login" in response.headers["Location"]


def test_the_html_copy_and_requirements_can_be_left_out(server, project, tmp_path):
    response = get(server, "ours", NB_PATH, "zip", params={"html": "0", "requirements": "no"})
    assert response.status_code == 200, response.text
    top = extract(response.content, "zip", tmp_path / "out")
    stem = NB_NAME[: -len(".ipynb")]
    assert not (top / "notebooks" / f"{stem}.html").exists()
    assert not (top / "requirements.txt").exists() and not (top / "runtime.txt").exists()
    paths = {f["path"] for f in json.loads((top / "MANIFEST.json").read_text())["files"]}
    assert f"notebooks/{stem}.html" not in paths and "requirements.txt" not in paths
    assert "images/plot 1.png" in paths
    bad = get(server, "ours", NB_PATH, "zip", params={"html": "maybe"})
    assert bad.status_code == 400
    assert bad.json()["message"] == "html='maybe' is neither yes nor no: ask for html=1 or html=0."


def test_a_store_that_hangs_gets_an_answer_and_frees_the_bundle_slot(jupyter_env, tmp_path):
    """A synchronous manager stuck in a listing cannot be interrupted: the request gives
    up on it past the plan's deadline, and the server goes on serving and bundling. (The
    deadline leaves reading the notebook, before the listing, time even on a loaded
    machine: with 1 s, the read itself ran out first there.)"""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("[d](d/x.csv)")])
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"nb.ipynb": nbformat.writes(nb)}))
    srv = NotebookServer(
        jupyter_env,
        tmp_path,
        flavour="nbclassic",
        extra_args=[
            "--ServerApp.contents_manager_class=memory_contents.HangingContentsManager",
            f"--HangingContentsManager.seed={seed}",
            "--NbextPkg.bundle_plan_timeout=4",
            "--NbextPkg.max_concurrent_bundles=1",
        ],
        test_modules=True,
    ).start()
    try:
        for _ in range(2):  # the second would be 503 if the first still held the only slot
            started = time.monotonic()
            response = get(srv, "ours", "nb.ipynb")
            assert response.status_code == 413, response.text
            assert "did not answer within the plan's 4 s" in response.json()["message"]
            assert time.monotonic() - started < 20
        assert srv.api("GET", "api/contents/nb.ipynb", params={"content": "0"}).status_code == 200
    finally:
        srv.stop()
