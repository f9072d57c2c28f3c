"""Take the README's screenshots in headless Chromium against the demo folder.

python docs/screenshots.py          # writes docs/img/*.png
python docs/screenshots.py FOLDER   # writes FOLDER/*.png instead (to look before replacing)
"""

import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "browser"))

import nbformat  # noqa: E402
from harness import JupyterEnv, NotebookServer, start_chromium  # noqa: E402
from pages import NotebookPage, TreePage  # noqa: E402

OUT = REPO / "docs" / "img"
HIDE_BANNER = "var b = document.getElementById('notebook7_banner'); if (b) { b.remove(); }"


def main(out=OUT):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="nbext_pkg-shots-"))
    shutil.copytree(REPO / "demo", root / "demo")
    jenv = JupyterEnv()
    jenv.install_nbext_pkg()
    server = NotebookServer(jenv, root / "demo").start()
    driver = start_chromium()
    driver.set_window_size(1100, 560)
    try:
        driver.get(server.url + f"tree?token={server.token}")
        tree = TreePage(driver, server).open("")
        tree.wait_kernels()
        tree.js(HIDE_BANNER)
        tree.clickable("#nbext_pkg-kernel-toggle").click()
        tree.visible("#nbext_pkg-kernel-menu")
        driver.save_screenshot(str(out / "tree-new-notebook.png"))

        page = NotebookPage(driver, server).open("données #1/température à l'ombre.ipynb").wait_kernel()
        page.js(HIDE_BANNER)
        page.clickable("#filelink").click()
        page.visible("#nbext_pkg-new-notebook-menu")
        driver.save_screenshot(str(out / "notebook-file-menu.png"))
        page.find("body").click()
        page.open_session_info()
        driver.set_window_size(1100, 620)
        driver.save_screenshot(str(out / "session-info.png"))
        page.close_modal("#nbext_pkg-session-info-dialog", "#nbext_pkg-session-info-close")
        driver.set_window_size(1100, 1100)
        page.js(HIDE_BANNER)
        page.download_as_entry("bundle")  # the submenu open, our entry in it
        driver.save_screenshot(str(out / "download-as-bundle.png"))

        # A notebook moved away behind the page's back: the bundle's dialog.
        draft = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Draft")])
        draft.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(draft, str(root / "demo" / "draft.ipynb"))
        driver.set_window_size(1100, 900)  # room for the Download as submenu
        page = NotebookPage(driver, server).open("draft.ipynb").wait_kernel()
        page.js(HIDE_BANNER + "Jupyter.notebook.set_dirty(false);")  # nothing to save first
        (root / "demo" / "draft.ipynb").rename(root / "demo" / "draft (moved).ipynb")
        page.download_as("bundle")
        page.modal("#nbext_pkg-bundle-failed", "the dialog")
        driver.set_window_size(1100, 420)
        page.js(HIDE_BANNER)
        driver.save_screenshot(str(out / "bundle-failed.png"))
    finally:
        driver.quit()
        server.stop()
    # A server started before nbext_pkg's server part was enabled: the notice.
    bare = JupyterEnv()
    bare.jupyter("nbextension", "install", "--py", "nbext_pkg", "--user")
    bare.jupyter("nbextension", "enable", "--py", "nbext_pkg", "--user")
    stale = NotebookServer(bare, root / "demo").start()
    driver = start_chromium()
    driver.set_window_size(1100, 420)
    try:
        driver.get(stale.url + f"tree?token={stale.token}")
        tree = TreePage(driver, stale).open("")
        tree.visible("#nbext_pkg-server-missing")
        tree.js(HIDE_BANNER)
        driver.save_screenshot(str(out / "server-part-missing.png"))
    finally:
        driver.quit()
        stale.stop()
        bare.cleanup()
        jenv.cleanup()
        shutil.rmtree(root, ignore_errors=True)
    print("\n".join(str(p) for p in sorted(out.glob("*.png"))))


if __name__ == "__main__":
    main(*sys.argv[1:2])
