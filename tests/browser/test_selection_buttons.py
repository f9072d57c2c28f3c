"""The tree page's selection buttons (static/selection.js) and File > Save Bundle to This
Folder (static/bundle_menu.js), in headless Chromium on both servers, in a folder whose name
needs escaping: tick, click, and the archive is downloaded, saved, or opened."""

import io
import json
import shutil
import zipfile

import nbformat
import pytest
from harness import wait_until
from pages import NotebookPage, TreePage

pytestmark = pytest.mark.browser

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)


@pytest.fixture
def folder(notebook_root, request):
    name = f"sel #1 ünï {request.node.name[5:35]}".replace("[", "(").replace("]", ")")
    base = notebook_root / name
    if base.exists():
        shutil.rmtree(base)
    (base / "data").mkdir(parents=True)
    (base / "data" / "table.csv").write_text("a,b\n1,2\n")
    (base / "pic.png").write_bytes(PNG)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("![p](pic.png)"), nbformat.v4.new_code_cell("1 + 1")]
    nbformat.write(nb, str(base / "analysis.ipynb"))
    return name, base


def saved(downloads, name):
    target = downloads / name
    wait_until(
        lambda: target.exists() and not list(downloads.glob("*.crdownload")),
        60,
        f"the browser to save {name}",
    )
    return target


def test_the_buttons_show_for_what_is_ticked(browser, server, folder):
    name, base = folder
    (base / "old.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    tree = TreePage(browser, server).open(name)
    assert tree.shown_selection_buttons() == []
    tree.tick("data")
    assert tree.shown_selection_buttons() == ["nbext_pkg-bundle-selection", "nbext_pkg-save-selection"]
    tree.tick("data", "old.zip")
    assert "nbext_pkg-open-bundle" not in tree.shown_selection_buttons()
    tree.row("data").find_element("css selector", "input[type=checkbox]").click()
    tree.tick("old.zip")
    assert tree.shown_selection_buttons() == [
        "nbext_pkg-bundle-selection",
        "nbext_pkg-open-bundle",
        "nbext_pkg-save-selection",
    ]
    tree.screenshot("selection-buttons.png")


def test_download_bundle_downloads_one_archive_of_the_ticked_items(browser, server, folder, downloads):
    name, _ = folder
    tree = TreePage(browser, server).open(name)
    tree.tick("analysis.ipynb", "data")
    tree.selection_button("nbext_pkg-bundle-selection").click()
    target = saved(downloads, f"{name}-selection.zip")
    with zipfile.ZipFile(target) as zf:
        names = set(zf.namelist())
        doc = json.loads(zf.read(f"{name}-selection/MANIFEST.json"))
    top = f"{name}-selection"
    assert {
        f"{top}/analysis.ipynb",
        f"{top}/analysis.html",
        f"{top}/pic.png",
        f"{top}/data/table.csv",
        f"{top}/MANIFEST.json",
    } <= names
    assert sorted(doc["selection"]["names"]) == ["analysis.ipynb", "data"]
    tree.wait(
        lambda d: "started" in d.find_element("id", "nbext_pkg-selection-status").text,
        "waiting for the page to say the download started",
    )
    target.unlink()


@pytest.mark.refused_request("/nbext_pkg/selection ", "status of 400")
def test_a_refused_selection_is_a_dialog_with_the_servers_sentence(browser, server, folder):
    name, base = folder
    tree = TreePage(browser, server).open(name)
    tree.tick("data")
    # A page that sends a name from outside the folder (by hand, or an older page).
    tree.js("Jupyter.notebook_list.selected[0].name = '../escape';")
    tree.selection_button("nbext_pkg-bundle-selection").click()
    dialog = tree.modal("#nbext_pkg-selection-failed", "the failure dialog")
    assert "not a name in this folder" in dialog.text


def test_save_bundle_here_writes_it_into_the_folder_and_the_list_shows_it(browser, server, folder):
    name, base = folder
    tree = TreePage(browser, server).open(name)
    tree.tick("data")
    tree.selection_button("nbext_pkg-save-selection").click()
    tree.wait(
        lambda d: d.find_element("css selector", "body").get_attribute("data-nbext-pkg-saved"),
        "waiting for the bundle to be saved",
    )
    assert (base / "data.zip").exists()
    tree.row("data.zip")  # the list shows it
    with zipfile.ZipFile(base / "data.zip") as zf:
        assert "data/table.csv" in zf.namelist()
    assert not [p for p in base.iterdir() if p.name.startswith(".nbext_pkg")]


def test_open_bundle_unpacks_it_and_opens_its_notebook(browser, server, folder):
    name, base = folder
    bundle = server.api(
        "POST",
        "nbext_pkg/selection",
        data={"folder": name, "names": json.dumps(["analysis.ipynb"])},
        expect=200,
    ).content
    (base / "received.zip").write_bytes(bundle)
    tree = TreePage(browser, server).open(name)
    tree.tick("received.zip")
    main = browser.current_window_handle
    tree.new_window_after(
        lambda: tree.selection_button("nbext_pkg-open-bundle").click(), "the window of the bundle's notebook"
    )
    page = NotebookPage(browser, server).wait_loaded()
    assert page.path == f"{name}/received/analysis.ipynb"
    assert (base / "received" / "pic.png").read_bytes() == PNG
    browser.switch_to.window(main)
    tree.row("received")


def test_a_tampered_bundle_is_opened_with_its_mismatches_listed(browser, server, folder):
    name, base = folder
    bundle = server.api(
        "POST", "nbext_pkg/selection", data={"folder": name, "names": json.dumps(["data"])}, expect=200
    ).content
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bundle)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.namelist():
            dst.writestr(item, b"x,y\n9,9\n" if item.endswith("table.csv") else src.read(item))
    (base / "tampered.zip").write_bytes(out.getvalue())
    tree = TreePage(browser, server).open(name)
    tree.tick("tampered.zip")
    tree.selection_button("nbext_pkg-open-bundle").click()
    report = tree.modal("#nbext_pkg-opened-report", "the report of what did not match")
    items = [li.text for li in report.find_elements("css selector", ".nbext_pkg-mismatches li")]
    assert any("table.csv" in item for item in items), items
    tree.screenshot("open-bundle-report.png")
    assert (base / "tampered" / "table.csv").read_text() == "x,y\n9,9\n"
    # However the report is dismissed, the window opened at the click goes with it.
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    ActionChains(browser).send_keys(Keys.ESCAPE).perform()
    tree.wait(
        lambda d: not d.find_elements("css selector", "#nbext_pkg-opened-report"),
        "waiting for the report to close",
    )
    tree.wait(lambda d: len(d.window_handles) == 1, "waiting for the blank window to close")


@pytest.mark.refused_request("/nbext_pkg/open/", "status of 400")
def test_a_hostile_archive_is_refused_in_a_dialog_and_nothing_appears(browser, server, folder):
    name, base = folder
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("../../escaped.txt", "escaped")
    (base / "evil.zip").write_bytes(out.getvalue())
    before = sorted(p.name for p in base.iterdir())
    tree = TreePage(browser, server).open(name)
    tree.tick("evil.zip")
    tree.selection_button("nbext_pkg-open-bundle").click()
    dialog = tree.modal("#nbext_pkg-selection-failed", "the refusal")
    assert "../../escaped.txt" in dialog.text
    assert sorted(p.name for p in base.iterdir()) == before
    assert len(browser.window_handles) == 1  # the window opened at the click is closed again


def test_file_save_bundle_to_this_folder(browser, server, folder):
    name, base = folder
    page = NotebookPage(browser, server).open(f"{name}/analysis.ipynb")
    page.clickable("#filelink").click()
    page.visible("#nbext_pkg-save-bundle-menu a", "the Save Bundle entry")
    page.screenshot("save-bundle-menu.png")
    page.clickable("#nbext_pkg-save-bundle-menu a").click()
    page.wait(
        lambda d: d.find_element("css selector", "body").get_attribute("data-nbext-pkg-saved"),
        "waiting for the bundle to be saved",
    )
    assert page.find("body").get_attribute("data-nbext-pkg-saved") == f"{name}/analysis.zip"
    with zipfile.ZipFile(base / "analysis.zip") as zf:
        assert "analysis/pic.png" in zf.namelist()
