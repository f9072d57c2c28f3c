"""File > Download as > Notebook bundle, as a person sees it in headless Chromium: the
notification area says the bundle is being prepared until the browser's download begins,
the browser's download knows the total size (the response has a Content-Length), and a
failure before the first byte is a dialog with the server's sentence."""

import json
import os
import zipfile

import nbformat
import pytest
from harness import start_chromium, wait_until
from pages import NotebookPage

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def driver(server, tmp_path_factory):
    downloads = tmp_path_factory.mktemp("length-downloads")
    chromium = start_chromium(download_dir=downloads, network_log=True)
    chromium.downloads = downloads
    chromium.get(server.url + f"tree?token={server.token}")
    yield chromium
    chromium.quit()


def write_nb(path, *cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(c) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def saved(folder, name):
    target = folder / name
    wait_until(
        lambda: target.exists() and not list(folder.glob("*.crdownload")), 60, f"the browser to save {name}"
    )
    return target


def bundle_responses(driver):
    """The responses to bundle requests the browser saw: (status, headers) each."""
    found = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.responseReceived":
            response = message["params"]["response"]
            if "/nbext_pkg/bundle/" in response["url"]:
                found.append((response["status"], {k.lower(): v for k, v in response["headers"].items()}))
    return found


def test_preparing_then_a_download_of_known_length(driver, server, notebook_root):
    folder = notebook_root / "length ü"
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "blob.bin").write_bytes(os.urandom(4 * 1024 * 1024))
    write_nb(folder / "sized.ipynb", "[blob](data/blob.bin)", *(f"## part {i}\ntext" for i in range(300)))
    for old in driver.downloads.glob("sized*"):
        old.unlink()
    page = NotebookPage(driver, server).open("length ü/sized.ipynb")
    driver.get_log("performance")  # what the page's own loading logged
    page.record_notices()
    page.download_as("bundle")
    target = saved(driver.downloads, "sized.zip")
    wait_until(lambda: "Bundle download started" in page.notices(), 30, "the notice that the download began")
    notices = page.notices()
    assert notices.index("Preparing bundle\u2026") < notices.index("Bundle download started"), notices
    ((status, headers),) = bundle_responses(driver)
    assert status == 200
    assert int(headers["content-length"]) == target.stat().st_size
    assert headers["accept-ranges"] == "bytes" and headers["etag"].startswith('"nbx-')
    with zipfile.ZipFile(target) as zf:
        assert zf.testzip() is None
        assert zf.read("sized/data/blob.bin") == (folder / "data" / "blob.bin").read_bytes()
    # The frame's cookie is gone once it has been seen.
    assert "nbext_pkg_download" not in driver.execute_script("return document.cookie")


def test_a_failure_before_the_first_byte_is_a_dialog_with_the_servers_sentence(driver, server, notebook_root):
    folder = notebook_root / "length ü"
    write_nb(folder / "breaks.ipynb", "fine for now")
    page = NotebookPage(driver, server).open("length ü/breaks.ipynb").wait_kernel()
    # A page with unsaved changes saves them before its bundle (bundle_menu.js), which would
    # undo what follows: the page's own metadata (kernelspec, language_info) saved first.
    page.js("if (Jupyter.notebook.dirty) { Jupyter.notebook.save_notebook(); }")
    page.wait(lambda d: not d.execute_script("return Jupyter.notebook.dirty"), "the page to be saved")
    (folder / "breaks.ipynb").write_text("{ not a notebook any more")  # behind the page's back
    page.record_notices()
    page.download_as("bundle")
    dialog = page.modal("#nbext_pkg-bundle-failed", "the dialog that says why there is no bundle")
    assert "The bundle could not be made" in dialog.text
    assert "Unreadable Notebook: length ü/breaks.ipynb" in dialog.text
    assert "Preparing bundle\u2026" in page.notices()
    assert not page.find("#file_menu").is_displayed(), "the File menu stays open behind the dialog"
    assert not list(driver.downloads.glob("breaks*"))
    page.wait(lambda d: not page.find("#notification_nbext_pkg").is_displayed(), "the notice to go away")
