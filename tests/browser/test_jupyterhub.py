"""nbext_pkg under a real JupyterHub, through its proxy, in headless Chromium:
log in as a user whose name needs URL-escaping, press the tree page's New
notebook button, open Session info, and download a bundle from File >
Download as. Once with JupyterHub's default single-user server (jupyter_server
with nbclassic serving /tree) and once with notebook 6's own."""

import os
import zipfile

import nbformat
import pytest
import requests
from conftest import write_notebook
from harness import start_chromium, url_path, wait_until
from hub import SINGLE_USER_APPS, Hub
from pages import NotebookPage, TreePage
from selenium.webdriver.common.by import By
from test_kernel_pool import assert_alike, probe

pytestmark = pytest.mark.browser

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)
FOLDER = "projet ü"
NOTEBOOK = "Données #1.ipynb"


@pytest.fixture(scope="module", params=list(SINGLE_USER_APPS))
def hub(request, jupyter_env, tmp_path_factory):
    base = tmp_path_factory.mktemp(f"hub-{request.param}")
    home = base / "home"
    (home / FOLDER).mkdir(parents=True)
    (home / FOLDER / "carte ü.png").write_bytes(PNG)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("![carte](carte%20%C3%BC.png)"),
        nbformat.v4.new_code_cell("x = 1"),
    ]
    nbformat.write(nb, str(home / FOLDER / NOTEBOOK))
    # A warm kernel pool of one, as a hub that wants New notebook ready at once sets it.
    running = Hub(
        jupyter_env,
        base / "run",
        home,
        request.param,
        args=['--NbextPkg.kernel_pool={"python3": 1}', "--NbextPkg.kernel_pool_refill_delay=0.5"],
    ).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def hub_browser(hub, tmp_path_factory):
    downloads = tmp_path_factory.mktemp("hub-downloads")
    driver = start_chromium(download_dir=downloads)
    driver.downloads = downloads
    yield driver
    driver.quit()


def log_in(driver, hub):
    driver.get(hub.url + "/hub/login")
    driver.find_element(By.ID, "username_input").send_keys(hub.user)
    driver.find_element(By.ID, "password_input").send_keys(hub.password)
    driver.find_element(By.ID, "login_submit").click()
    # The hub spawns the server, then the server's OAuth dance lands on /tree.
    tree = hub.url + hub.user_path + "tree"
    wait_until(
        lambda: driver.current_url.split("?")[0].rstrip("/") == tree,
        120,
        f"the single-user tree page at {tree} (now at {driver.current_url})",
        interval=0.2,
    )


@pytest.fixture(scope="module")
def logged_in(hub, hub_browser):
    """The browser logged in to the hub, its user's server spawned: that server's client."""
    log_in(hub_browser, hub)
    return hub.user_server()


@pytest.fixture(scope="module")
def claimed(hub, hub_browser, logged_in):
    """The tree page's New notebook pressed once: (the notebook page, its session, the
    warm kernel the pool held before). The notebook's window is closed afterwards."""
    driver, server = hub_browser, logged_in
    pooled = wait_until(
        lambda: server.api("GET", "nbext_pkg/api/kernel_pool", expect=200).json()["kernels"]["python3"][
            "ready"
        ],
        60,
        "the user's warm kernel",
    )[0]
    assert server.sessions() == [] and server.kernels() == []  # not the user's until claimed
    tree = TreePage(driver, server).open(FOLDER)
    tree.wait_kernels()
    main = driver.current_window_handle
    tree.new_window_after(tree.click_new, "the new notebook's window")
    page = NotebookPage(driver, server).wait_loaded().wait_kernel()
    (session,) = [s for s in server.sessions() if s["path"] == page.path]
    yield page, session, pooled
    driver.close()
    driver.switch_to.window(main)
    server.api("DELETE", f"api/sessions/{session['id']}", expect=204)


def test_nothing_of_ours_answers_a_caller_who_has_not_logged_in(hub, logged_in):
    server = logged_in
    assert hub.user_path == "/user/j%C3%B6@hub/"
    for path in ("nbext_pkg/api/status", f"nbext_pkg/bundle/{url_path(FOLDER + '/' + NOTEBOOK)}"):
        anonymous = requests.get(server.url + path, allow_redirects=False, timeout=30)
        assert anonymous.status_code in (302, 403), (path, anonymous.status_code)
    assert server.api("GET", "nbext_pkg/api/status", expect=200).json()["name"] == "nbext_pkg"


def test_new_notebook_opens_in_its_folder_with_the_users_warm_kernel(hub_browser, logged_in, claimed):
    page, session, pooled = claimed
    assert hub_browser.current_url.startswith(logged_in.url + "notebooks/" + url_path(FOLDER) + "/Untitled")
    assert session["path"].startswith(FOLDER + "/Untitled")
    assert session["kernel"]["id"] == pooled["kernel_id"]


def test_the_claimed_kernel_has_the_environment_a_fresh_one_has(hub, logged_in, claimed):
    """The single-user server's environment, JUPYTERHUB_* and all."""
    server, (_, session, _) = logged_in, claimed
    write_notebook(hub.home / FOLDER / "fresh.ipynb", kernel_name="python3")
    fresh = server.api(
        "POST",
        "api/sessions",
        expect=201,
        json={
            "path": f"{FOLDER}/fresh.ipynb",
            "type": "notebook",
            "name": "fresh.ipynb",
            "kernel": {"name": "python3"},
        },
    ).json()
    try:
        runtime = hub.jenv.runtime_dir
        claimed_facts = probe(None, session["kernel"]["id"], runtime)
        assert claimed_facts[1]["env"]["JUPYTERHUB_USER"] == hub.user
        assert_alike(
            claimed_facts,
            probe(None, fresh["kernel"]["id"], runtime),
            os.path.realpath(hub.home / FOLDER),
            None
            if hub.flavour == "notebook"
            else (str(hub.home / session["path"]), str(hub.home / FOLDER / "fresh.ipynb")),
        )
    finally:
        server.api("DELETE", f"api/sessions/{fresh['id']}", expect=204)


def test_session_info_shows_what_the_server_reports(claimed):
    page, session, _ = claimed
    page.open_session_info()
    values = page.session_info_values()
    assert values["session_id"] == session["id"]
    assert values["kernel_id"] == session["kernel"]["id"]
    assert values["kernel_name"] == session["kernel"]["name"]
    assert values["console"] == f"jupyter console --existing kernel-{session['kernel']['id']}.json"
    page.close_modal("#nbext_pkg-session-info-dialog", "#nbext_pkg-session-info-close")


def test_download_as_saves_the_bundle_under_its_real_name(hub_browser, logged_in):
    driver, server = hub_browser, logged_in
    page = NotebookPage(driver, server).open(f"{FOLDER}/{NOTEBOOK}")
    entry = page.download_as_entry("bundle")
    assert entry.text == "Notebook bundle (.zip)"
    page.choose(entry)
    target = driver.downloads / "Données #1.zip"
    wait_until(
        lambda: target.exists() and not list(driver.downloads.glob("*.crdownload")),
        60,
        f"the browser to save {target.name}",
    )
    with zipfile.ZipFile(target) as zf:
        names = set(zf.namelist())
        assert {"Données #1/Données #1.ipynb", "Données #1/carte ü.png", "Données #1/MANIFEST.json"} <= names
        assert zf.read("Données #1/carte ü.png") == PNG
    for session in server.sessions():  # the page's own (New notebook's is the fixture's)
        if session["path"] == f"{FOLDER}/{NOTEBOOK}":
            server.api("DELETE", f"api/sessions/{session['id']}")


def test_the_bundle_has_its_length_and_resumes_through_the_proxy(hub):
    """configurable-http-proxy passes Content-Length, ETag and Range through: a download
    cut half-way resumes with 206 and the same bytes."""
    server = hub.spawned()
    path = f"nbext_pkg/bundle/{url_path(FOLDER + '/' + NOTEBOOK)}?format=zip"
    head = server.api("HEAD", path, expect=200)
    full = server.api("GET", path, expect=200)
    assert int(full.headers["Content-Length"]) == len(full.content) == int(head.headers["Content-Length"])
    assert full.headers["ETag"] == head.headers["ETag"] and full.headers["Accept-Ranges"] == "bytes"
    half = len(full.content) // 2
    rest = server.api(
        "GET", path, headers={"Range": f"bytes={half}-", "If-Range": full.headers["ETag"]}, expect=206
    )
    assert rest.headers["Content-Range"] == f"bytes {half}-{len(full.content) - 1}/{len(full.content)}"
    assert full.content[:half] + rest.content == full.content
    stale = server.api(
        "GET", path, headers={"Range": f"bytes={half}-", "If-Range": '"nbx-stale"'}, expect=200
    )
    assert stale.content == full.content
