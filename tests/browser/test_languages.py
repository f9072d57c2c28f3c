"""Our strings follow the notebook's own JavaScript strings: with Chromium set
to zh-CN (Accept-Language), notebook 6.5 shows Simplified Chinese and so do
we, through the main flows, from our zh_CN catalogue (static/i18n.zh_CN.json);
with en-US, English, and no catalogue is loaded. nbclassic 1.3 keeps its
JavaScript strings in English whatever the browser asks (jupyter_server ships
no nbjs catalogue), and so do we there."""

import zipfile

import nbformat
import pytest
from conftest import AWKWARD_DIR, BROKEN_KERNEL
from harness import start_chromium, wait_until
from pages import NotebookPage, TreePage
from selenium.webdriver.common.by import By

pytestmark = pytest.mark.browser

EXPECTED = {
    "zh-CN": {
        "new_notebook": "新建笔记本",
        "menu_new": "新建笔记本（内核已启动）",
        "menu_info": "会话信息...",
        "info_title": "会话信息",
        "kernel_id": "内核 ID",
        "bundle": "笔记本打包 (.zip)",
        "kernel_failed": "内核未能启动",
        "notebook_upload": "上传",  # the notebook's own string, for comparison
        "catalogue": "zh_CN",  # the one static/i18n.js loaded
    },
    "en-US": {
        "new_notebook": "New notebook",
        "menu_new": "New Notebook, Kernel Started",
        "menu_info": "Session Info...",
        "info_title": "Session info",
        "kernel_id": "Kernel id",
        "bundle": "Notebook bundle (.zip)",
        "kernel_failed": "The kernel did not start",
        "notebook_upload": "Upload",
        "catalogue": "en",  # none: the English text at the call sites
    },
}


@pytest.fixture(scope="module", params=list(EXPECTED))
def lang_browser(request, server, tmp_path_factory):
    downloads = tmp_path_factory.mktemp(f"downloads-{request.param}")
    driver = start_chromium(download_dir=downloads, lang=request.param)
    driver.downloads, driver.lang = downloads, request.param
    driver.get(server.url + f"tree?token={server.token}")
    yield driver
    driver.quit()


def test_main_flows_speak_the_notebooks_language(lang_browser, server, notebook_root):
    driver = lang_browser
    spoken = "en-US" if server.flavour == "nbclassic" else lang_browser.lang
    words = EXPECTED[spoken]
    folder = f"{AWKWARD_DIR}/langue {lang_browser.lang}"
    (notebook_root / folder).mkdir(exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(), str(notebook_root / folder / "doc.ipynb"))

    tree = TreePage(driver, server).open(folder)
    tree.wait_kernels()
    # The notebook's own JavaScript string (the upload button's label is set by script).
    assert driver.execute_script("return require('base/js/i18n').msg._('Upload')") == words["notebook_upload"]
    # The language our i18n.js took from that ...
    assert driver.execute_script("return require('nbextensions/nbext_pkg/i18n').lang") == words["catalogue"]
    # ... and the catalogue it loaded for that, if any.
    fetched = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    names = [url.split("?")[0].rsplit("/", 1)[1] for url in fetched if "/nbext_pkg/" in url]
    catalogues = [name for name in names if name.startswith("i18n.") and name.endswith(".json")]
    assert catalogues == ([] if words["catalogue"] == "en" else [f"i18n.{words['catalogue']}.json"])
    assert tree.find("#nbext_pkg-new-notebook").text.strip() == words["new_notebook"]

    # New notebook from the tree page, then its menus and the Session info dialog.
    tree.new_window_after(tree.click_new, "the new notebook")
    page = NotebookPage(driver, server).wait_loaded().wait_kernel()
    assert (
        driver.execute_script("return document.querySelector('#nbext_pkg-new-notebook-menu a').textContent")
        == words["menu_new"]
    )
    assert (
        driver.execute_script("return document.querySelector('#nbext_pkg-session-info-menu a').textContent")
        == words["menu_info"]
    )
    dialog = page.open_session_info()
    assert dialog.find_element(By.CSS_SELECTOR, ".modal-title").text == words["info_title"]
    label = dialog.find_element(By.CSS_SELECTOR, 'tr[data-field="kernel_id"] th').text
    assert label == words["kernel_id"]
    page.close_modal("#nbext_pkg-session-info-dialog", "#nbext_pkg-session-info-close")

    # Download as > the bundle, under its label in this language; it downloads.
    page.js("Jupyter.notebook.save_notebook()")
    entry = page.download_as_entry("bundle")
    assert entry.text == words["bundle"]
    page.choose(entry)
    stem = page.path.rsplit("/", 1)[1][: -len(".ipynb")]
    target = driver.downloads / f"{stem}.zip"
    wait_until(
        lambda: target.exists() and not list(driver.downloads.glob("*.crdownload")),
        30,
        f"the browser to save {target.name}",
    )
    with zipfile.ZipFile(target) as zf:
        assert f"{stem}/{stem}.ipynb" in zf.namelist()
    driver.close()
    driver.switch_to.window(driver.window_handles[0])

    # An error dialog: a kernel that cannot start.
    tree = TreePage(driver, server).open(folder)
    tree.wait_kernels()
    tree.pick_kernel(BROKEN_KERNEL)
    dialog = tree.modal("#nbext_pkg-error-dialog", "the kernel error dialog")
    assert dialog.find_element(By.CSS_SELECTOR, ".modal-title").text == words["kernel_failed"]
    tree.close_modal("#nbext_pkg-error-dialog", "#nbext_pkg-dialog-close")
    for s in server.sessions():
        if s["path"].startswith(folder):
            server.api("DELETE", f"api/sessions/{s['id']}")
