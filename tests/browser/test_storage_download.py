"""File > Download as > Notebook bundle in headless Chromium on servers whose files
are not on this disk: pgcontents on PostgreSQL (notebook 6), s3contents on SeaweedFS
and hybridcontents (nbclassic). The archive the browser saves holds the files the
notebook names, read from the store."""

import json
import zipfile

import nbformat
import pytest
from harness import wait_until
from pages import NotebookPage
from storage import put_dir, put_file, put_notebook

pytestmark = pytest.mark.browser

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)
# notebook 6 runs with pgcontents; nbclassic (jupyter_server) with s3contents and hybrid.
KINDS = {"notebook": ("pgcontents",), "nbclassic": ("s3contents", "hybrid")}


def download_bundle(browser, srv, path, target, downloads):
    for old in downloads.glob(target.stem + "*"):
        old.unlink()
    browser.get(srv.url + f"tree?token={srv.token}")  # this server's login cookie
    page = NotebookPage(browser, srv).open(path)
    page.download_as("bundle")
    wait_until(
        lambda: target.exists() and not list(downloads.glob("*.crdownload")),
        60,
        f"the browser to save {target.name}",
    )


def test_download_as_bundle_from_a_store_off_this_disk(browser, flavour, session_storage_server, downloads):
    for kind in KINDS[flavour]:
        # A base URL of its own: the login and _xsrf cookies of a server at "/" would be
        # sent to the session's main server on the same host too, and spoil its xsrf check.
        srv = session_storage_server(kind, base_url=f"/{kind}-store/")
        put_dir(srv, "stored")
        put_dir(srv, "stored/img")
        put_file(srv, "stored/img/p ü.png", PNG)
        put_file(srv, "stored/t.csv", b"a,b\n1,2\n")
        put_file(srv, "stored/.hidden.txt", b"SECRET")
        nb = nbformat.v4.new_notebook(
            cells=[
                nbformat.v4.new_markdown_cell("![p](img/p%20%C3%BC.png) [t](t.csv) [h](.hidden.txt)"),
                nbformat.v4.new_code_cell("1 + 1"),
            ]
        )
        put_notebook(srv, f"stored/from {kind}.ipynb", json.loads(nbformat.writes(nb)))
        target = downloads / f"from {kind}.zip"
        download_bundle(browser, srv, f"stored/from {kind}.ipynb", target, downloads)
        with zipfile.ZipFile(target) as zf:
            top = f"from {kind}"
            assert zf.read(f"{top}/img/p ü.png") == PNG
            assert zf.read(f"{top}/t.csv") == b"a,b\n1,2\n"
            manifest = json.loads(zf.read(f"{top}/MANIFEST.json"))
            assert manifest["skipped"] == [{"reference": ".hidden.txt", "reason": "hidden"}]
            assert manifest["storage"] in (
                "PostgresContentsManager",
                "S3ContentsManager",
                "HybridContentsManager",
            )
            assert "data:image/png;base64," in zf.read(f"{top}/from {kind}.html").decode()
            assert not any(b"SECRET" in zf.read(name) for name in zf.namelist())
