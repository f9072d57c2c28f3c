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
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

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
    nb.cells = [nbformat.v4.new_markdown_cell("![pic](pic%20%C3%BC.png)"),
                nbformat.v4.new_code_cell("1 + 1")]
    nbformat.write(nb, str(folder / "Résumé #2.ipynb"))

    target = downloads / "Résumé #2.zip"
    for old in downloads.glob("Résumé #2*"):  # left by the run against the other server
        old.unlink()
    page = NotebookPage(browser, server).open(f"{AWKWARD_DIR}/bundle me/Résumé #2.ipynb")
    page.js("Jupyter.notebook.get_cell(1).set_text('edited = True');"
            "Jupyter.notebook.set_dirty(true);")
    page.clickable("#filelink").click()
    submenu = page.find("#download_menu").find_element(By.XPATH, "..")
    ActionChains(browser).move_to_element(submenu).perform()
    page.visible("#download_menu", "the Download as submenu")
    entries = [a.text for a in page.find_all("#download_menu li a")]
    # One entry, whatever else is registered (our nbconvert exporter must not add a twin).
    assert [e for e in entries if "bundle" in e.lower()] == ["Notebook bundle (.zip)"], entries
    items = [a for a in page.find_all("#download_menu li a") if a.text == "Notebook bundle (.zip)"]
    ActionChains(browser).move_to_element(items[0]).click().perform()

    wait_until(lambda: target.exists() and not list(downloads.glob("*.crdownload")), 30,
               f"the browser to save {target.name}")
    with zipfile.ZipFile(target) as zf:
        names = set(zf.namelist())
        assert {"Résumé #2/Résumé #2.ipynb", "Résumé #2/pic ü.png", "Résumé #2/Résumé #2.html",
                "Résumé #2/MANIFEST.json", "Résumé #2/requirements.txt"} <= names
        assert zf.read("Résumé #2/pic ü.png") == PNG
        saved = nbformat.reads(zf.read("Résumé #2/Résumé #2.ipynb").decode(), as_version=4)
        assert saved.cells[1].source == "edited = True"
        assert json.loads(zf.read("Résumé #2/MANIFEST.json"))["skipped"] == []
