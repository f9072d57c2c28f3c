"""File > Download as > Notebook bundle in headless Chromium: the browser
saves the archive under its real name, and it holds the notebook as edited
(unsaved changes are saved first) and the image it shows."""

import json
import zipfile

import nbformat
import pytest
from conftest import AWKWARD_DIR
from harness import wait_until
from pages import NotebookPage

pytestmark = pytest.mark.browser

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)


def test_download_as_notebook_bundle(browser, server, notebook_root, downloads):
    folder = notebook_root / AWKWARD_DIR / "bundle me"
    folder.mkdir(exist_ok=True)
    (folder / "pic ü.png").write_bytes(PNG)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("![pic](pic%20%C3%BC.png)"), nbformat.v4.new_code_cell("1 + 1")]
    nbformat.write(nb, str(folder / "Résumé #2.ipynb"))

    target = downloads / "Résumé #2.zip"
    for old in downloads.glob("Résumé #2*"):  # left by the run against the other server
        old.unlink()
    page = NotebookPage(browser, server).open(f"{AWKWARD_DIR}/bundle me/Résumé #2.ipynb")
    page.js("Jupyter.notebook.get_cell(1).set_text('edited = True');Jupyter.notebook.set_dirty(true);")
    entry = page.download_as_entry("bundle")
    labels = page.download_as_labels()
    # One entry, whatever else is registered (our nbconvert exporter must not add a twin).
    assert [e for e in labels if "bundle" in e.lower()] == [entry.text] == ["Notebook bundle (.zip)"], labels
    page.choose(entry)

    wait_until(
        lambda: target.exists() and not list(downloads.glob("*.crdownload")),
        30,
        f"the browser to save {target.name}",
    )
    with zipfile.ZipFile(target) as zf:
        names = set(zf.namelist())
        assert {
            "Résumé #2/Résumé #2.ipynb",
            "Résumé #2/pic ü.png",
            "Résumé #2/Résumé #2.html",
            "Résumé #2/MANIFEST.json",
            "Résumé #2/requirements.txt",
            "Résumé #2/runtime.txt",
        } <= names
        assert zf.read("Résumé #2/pic ü.png") == PNG
        saved = nbformat.reads(zf.read("Résumé #2/Résumé #2.ipynb").decode(), as_version=4)
        assert saved.cells[1].source == "edited = True"
        assert json.loads(zf.read("Résumé #2/MANIFEST.json"))["skipped"] == []


@pytest.fixture(scope="module")
def server_without_page_module(flavour, tmp_path_factory):
    """The bundler and the server extension enabled, our page modules not: the page as it
    is in the moment before our module has taken the Download as entry over."""
    import shutil

    from harness import REPO, JupyterEnv, NotebookServer

    base = tmp_path_factory.mktemp(f"stock-entry-{flavour}")
    jenv = JupyterEnv(base / "env")
    if flavour == "nbclassic":
        (jenv.config_dir / "jupyter_server_config.d").mkdir()
        shutil.copy(
            REPO / "jupyter-config" / "jupyter_server_config.d" / "nbext_pkg.json",
            jenv.config_dir / "jupyter_server_config.d",
        )
        jenv.jupyter("nbclassic-bundlerextension", "enable", "--py", "nbext_pkg", "--user")
    else:
        jenv.jupyter("serverextension", "enable", "--py", "nbext_pkg", "--user")
        jenv.jupyter("bundlerextension", "enable", "--py", "nbext_pkg", "--user")
    nbconfig = jenv.config_dir / "nbconfig" / "notebook.json"
    section = json.loads(nbconfig.read_text())
    section["nbext_pkg"] = {"bundle_requirements": False}  # the page's settings, as configured
    nbconfig.write_text(json.dumps(section))
    root = base / "root"
    (root / "d %41 ü").mkdir(parents=True)
    (root / "d %41 ü" / "pic.png").write_bytes(PNG)
    nb = nbformat.v4.new_notebook()
    nb.metadata["nbext_pkg"] = {"bundle": {"html": False}}
    nb.cells = [nbformat.v4.new_markdown_cell("![pic](pic.png)")]
    nbformat.write(nb, str(root / "d %41 ü" / "fast click.ipynb"))
    srv = NotebookServer(jenv, root, flavour=flavour, base_url="/stock-entry/").start()
    yield srv
    srv.stop()


def test_the_stock_entry_gives_the_same_bundle_before_our_module_is_there(
    browser, server_without_page_module, downloads
):
    """A click that wins the race against our page module goes to <base_url>/bundle/:
    nbext_pkg answers it on both servers (nbclassic has no such route of its own), with
    the page's settings and the notebook's, as our own entry would."""
    srv = server_without_page_module
    browser.get(srv.url + f"tree?token={srv.token}")
    target = downloads / "fast click.zip"
    for old in downloads.glob("fast click*"):
        old.unlink()
    page = NotebookPage(browser, srv).open("d %41 ü/fast click.ipynb", ours=False)
    assert page.js("return requirejs.defined('nbextensions/nbext_pkg/notebook')") is False
    entry = page.stock_download_as_entry("nbext_pkg_bundle")
    assert entry.get_attribute("data-nbext-pkg") is None  # the stock entry, not taken over
    page.choose(entry)
    wait_until(
        lambda: target.exists() and not list(downloads.glob("*.crdownload")),
        30,
        f"the browser to save {target.name}",
    )
    with zipfile.ZipFile(target) as zf:
        assert sorted(zf.namelist()) == [
            "fast click/MANIFEST.json",
            "fast click/fast click.ipynb",
            "fast click/pic.png",
        ]
