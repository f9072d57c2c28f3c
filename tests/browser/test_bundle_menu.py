"""static/bundle_menu.js in headless Chromium: File > Download as names the format a click
really downloads (.zip by default, .tar.gz when bundle_format says so, the notebook's own
choice from its metadata), and our entry is found by its bundler id, not by its label."""

import re
import tarfile

import nbformat
import pytest
from conftest import AWKWARD_DIR
from harness import wait_until
from pages import NotebookPage
from selenium.webdriver.common.by import By

from nbext_pkg import names

pytestmark = pytest.mark.browser

OURS = '#download_menu a[data-nbext-pkg="bundle"]'
TWIN = "nbext_pkg_twin"  # another bundler, registered under our very label


@pytest.fixture
def menu_notebook(server, notebook_root, request):
    """A notebook of its own, and the notebook section's settings put back afterwards."""
    folder = notebook_root / AWKWARD_DIR / "bundle menu"
    folder.mkdir(exist_ok=True)
    name = re.sub(r"[^a-z_]+", "-", request.node.name)[:40] + ".ipynb"
    nbformat.write(nbformat.v4.new_notebook(), str(folder / name))
    yield f"{AWKWARD_DIR}/bundle menu/{name}"
    server.api(
        "PATCH",
        "api/config/notebook",
        json={names.CONFIG_KEY: None, "bundlerextensions": {TWIN: None}},
        expect=200,
    )


def configure(server, data):
    server.api("PATCH", "api/config/notebook", json=data, expect=200)


def label_of(page, text):
    """Wait until our entry's label is ``text``; the marked entries' labels."""
    page.wait(
        lambda d: [a.get_attribute("textContent") for a in d.find_elements(By.CSS_SELECTOR, OURS)] == [text],
        f"waiting for our Download as entry to say {text!r}",
    )
    return [a.get_attribute("textContent") for a in page.find_all(OURS)]


def test_the_label_says_zip_by_default(browser, server, menu_notebook):
    page = NotebookPage(browser, server).open(menu_notebook)
    assert label_of(page, "Notebook bundle (.zip)") == ["Notebook bundle (.zip)"]


def test_the_label_says_tar_gz_when_bundle_format_is_tar_gz_and_so_does_the_download(
    browser, server, menu_notebook, downloads
):
    configure(server, {names.CONFIG_KEY: {"bundle_format": "tar.gz"}})
    stem = menu_notebook.rsplit("/", 1)[1][: -len(".ipynb")]
    for old in downloads.glob(stem + ".*"):
        old.unlink()
    page = NotebookPage(browser, server).open(menu_notebook)
    label_of(page, "Notebook bundle (.tar.gz)")
    entry = page.download_as_entry("bundle")
    assert entry.text == "Notebook bundle (.tar.gz)"
    page.choose(entry)
    target = downloads / f"{stem}.tar.gz"
    wait_until(
        lambda: target.exists() and not list(downloads.glob("*.crdownload")),
        30,
        f"the browser to save {target}",
    )
    with tarfile.open(target) as tf:
        assert f"{stem}/{stem}.ipynb" in tf.getnames()


def test_the_label_follows_the_notebooks_own_format_when_the_menu_opens(browser, server, menu_notebook):
    page = NotebookPage(browser, server).open(menu_notebook)
    label_of(page, "Notebook bundle (.zip)")
    page.js("Jupyter.notebook.metadata.nbext_pkg = {bundle: {format: 'tar'}};")
    page.open_download_menu()
    assert label_of(page, "Notebook bundle (.tar)") == ["Notebook bundle (.tar)"]


def test_our_entry_is_found_by_its_bundler_id_not_by_its_label(browser, server, menu_notebook):
    """A second bundler with our very label: only ours is marked and relabelled, and the
    other keeps the label it registered."""
    twin = {"label": names.BUNDLER_LABEL, "module_name": "nbext_pkg_twin_module", "group": "download"}
    configure(server, {"bundlerextensions": {TWIN: twin}})
    page = NotebookPage(browser, server).open(menu_notebook)
    label_of(page, "Notebook bundle (.zip)")
    texts = [a.get_attribute("textContent") for a in page.find_all("#download_menu li:not([id]) > a")]
    assert sorted(texts) == [names.BUNDLER_LABEL, "Notebook bundle (.zip)"], texts
