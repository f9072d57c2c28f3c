"""Take the README's screenshots in headless Chromium against the demo folder.

    python docs/screenshots.py        # writes docs/img/*.png
"""

import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "browser"))

from harness import JupyterEnv, NotebookServer, start_chromium  # noqa: E402
from pages import NotebookPage, TreePage  # noqa: E402

OUT = REPO / "docs" / "img"
HIDE_BANNER = "var b = document.getElementById('notebook7_banner'); if (b) { b.remove(); }"


def main():
    OUT.mkdir(parents=True, exist_ok=True)
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
        driver.save_screenshot(str(OUT / "tree-new-notebook.png"))

        page = NotebookPage(driver, server).open("données #1/température à l'ombre.ipynb").wait_kernel()
        page.js(HIDE_BANNER)
        page.clickable("#filelink").click()
        page.visible("#nbext_pkg-new-notebook-menu")
        driver.save_screenshot(str(OUT / "notebook-file-menu.png"))
        page.find("body").click()
        page.open_session_info()
        driver.set_window_size(1100, 620)
        driver.save_screenshot(str(OUT / "session-info.png"))
    finally:
        driver.quit()
        server.stop()
        jenv.cleanup()
        shutil.rmtree(root, ignore_errors=True)
    print("\n".join(str(p.relative_to(REPO)) for p in sorted(OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
