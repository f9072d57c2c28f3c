"""The front end's settings: read from nbconfig through the notebook's config
service, in layers (defaults, `common`, the page's section, then the notebook's
metadata for the bundle), and changed from the Nbextensions configurator's tab."""

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import ALT_KERNEL, AWKWARD_DIR
from harness import JupyterEnv, NotebookServer, start_chromium, wait_until
from pages import NotebookPage, TreePage
from selenium.webdriver.common.by import By

pytestmark = pytest.mark.browser


def patch_config(server, section, value):
    server.api("PATCH", f"api/config/{section}", json={"nbext_pkg": value}, expect=200)


def saved(folder, name):
    target = folder / name
    wait_until(
        lambda: target.exists() and not list(folder.glob("*.crdownload")), 30, f"the browser to save {name}"
    )
    return target


@pytest.fixture
def settings_reset(server):
    yield
    for section in ("common", "tree", "notebook"):
        server.api("PATCH", f"api/config/{section}", json={"nbext_pkg": None})


def test_tree_settings_choose_the_kernel_and_where_the_notebook_opens(
    browser, server, fresh_dir, settings_reset
):
    # `common` says new tab, the tree section (later, so it wins) same tab.
    patch_config(server, "common", {"open_in": "new-tab", "default_kernel": "no-such-kernel"})
    patch_config(
        server, "tree", {"default_kernel": ALT_KERNEL, "remember_kernel": "false", "open_in": "same-tab"}
    )
    tree = TreePage(browser, server).open(fresh_dir)  # the page's origin, for its local storage
    browser.execute_script("localStorage.setItem('nbext_pkg.last_kernel', 'python3')")
    tree.open(fresh_dir)
    tree.wait_kernels()
    assert tree.button_kernel() == ALT_KERNEL  # the remembered kernel is not used
    tree.pick_kernel("python3")
    page = NotebookPage(browser, server).wait_loaded()  # in this very window
    assert len(browser.window_handles) == 1
    assert page.path.startswith(fresh_dir + "/Untitled")
    assert browser.execute_script("return localStorage.getItem('nbext_pkg.last_kernel')") == "python3"


def test_bundle_settings_from_nbconfig_and_the_notebooks_metadata(
    browser, server, notebook_root, downloads, settings_reset
):
    folder = notebook_root / AWKWARD_DIR / "settings bundle"
    folder.mkdir(exist_ok=True)
    for name, meta in (("plain.ipynb", None), ("own.ipynb", {"format": "zip", "requirements": True})):
        nb = nbformat.v4.new_notebook()
        if meta:
            nb.metadata["nbext_pkg"] = {"bundle": meta}
        nbformat.write(nb, str(folder / name))
        for old in downloads.glob(Path(name).stem + ".*"):
            old.unlink()
    patch_config(
        server, "notebook", {"bundle_format": "tar.gz", "bundle_html": False, "bundle_requirements": "false"}
    )

    page = NotebookPage(browser, server).open(f"{AWKWARD_DIR}/settings bundle/plain.ipynb")
    page.download_as("bundle")
    with tarfile.open(saved(downloads, "plain.tar.gz")) as tf:
        names = set(tf.getnames())
    assert "plain/plain.ipynb" in names and "plain/MANIFEST.json" in names
    assert "plain/plain.html" not in names and "plain/requirements.txt" not in names

    # The notebook's own metadata wins over nbconfig, for what it names.
    page = NotebookPage(browser, server).open(f"{AWKWARD_DIR}/settings bundle/own.ipynb")
    page.download_as("bundle")
    with zipfile.ZipFile(saved(downloads, "own.zip")) as zf:
        names = set(zf.namelist())
    assert "own/requirements.txt" in names and "own/own.html" not in names


@pytest.fixture(scope="module")
def configurator_server(tmp_path_factory):
    """notebook 6 with the Nbextensions configurator (0.6.3, installed aside by
    ./scripts/test) and nbext_pkg; nbclassic's copy of the tab does not work."""
    found = os.environ.get("NBEXT_PKG_CONFIGURATOR") or str(Path(sys.prefix) / "configurator")
    if not Path(found, "jupyter_nbextensions_configurator").is_dir():
        pytest.fail(f"jupyter_nbextensions_configurator is missing at {found}: run ./scripts/test")
    base = tmp_path_factory.mktemp("configurator")
    jenv = JupyterEnv(base / "env")
    jenv.env["PYTHONPATH"] = found + os.pathsep + os.environ.get("PYTHONPATH", "")
    jenv.install_nbext_pkg(symlink=False)
    subprocess.run(
        [
            jenv.python,
            "-c",
            "from jupyter_nbextensions_configurator.application import main; main()",
            "enable",
            "--user",
        ],
        env=jenv.env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    root = base / "root"
    root.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), str(root / "configured.ipynb"))
    srv = NotebookServer(jenv, root, base_url="/configurator/").start()
    downloads = base / "downloads"
    downloads.mkdir()
    driver = start_chromium(download_dir=downloads)
    driver.downloads = downloads
    driver.get(srv.url + f"tree?token={srv.token}")
    yield srv, driver
    driver.quit()
    srv.stop()


def test_an_option_changed_in_the_configurator_takes_effect(configurator_server):
    server, driver = configurator_server
    # The configurator's tab on the tree page, and our notebook module in its list.
    driver.get(server.url + "tree#nbextensions_configurator")
    page = NotebookPage(driver, server)
    page.clickable('#tabs a[href="#nbextensions_configurator"]', "the Nbextensions tab").click()
    ours = page.wait(
        lambda d: next(
            (
                a
                for a in d.find_elements(By.CSS_SELECTOR, ".nbext-selector ul li a")
                if a.text.strip() == "nbext_pkg (notebook page)"
            ),
            None,
        ),
        "our notebook module in the configurator's list",
    )
    ours.click()
    fmt = page.visible('[id="input_nbext_pkg.bundle_format"]', "the bundle_format field")
    html = page.visible('[id="input_nbext_pkg.bundle_html"]', "the bundle_html box")
    driver.execute_script("$(arguments[0]).val('tar.gz').trigger('change')", fmt)
    if html.is_selected():
        html.click()
    wait_until(
        lambda: (
            server.api("GET", "api/config/notebook").json().get("nbext_pkg")
            == {"bundle_format": "tar.gz", "bundle_html": False}
        ),
        15,
        "the configurator to save our options",
    )

    page = NotebookPage(driver, server).open("configured.ipynb")
    page.download_as("bundle")
    with tarfile.open(saved(driver.downloads, "configured.tar.gz")) as tf:
        names = set(tf.getnames())
    assert "configured/configured.ipynb" in names and "configured/configured.html" not in names
