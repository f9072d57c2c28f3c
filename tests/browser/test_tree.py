"""The tree page's New notebook button (static/tree.js, static/new_notebook.js),
in headless Chromium against a real server under /user/t%C3%A9st@x/, in
folders named with spaces, '#', '%', '?' and letters outside ASCII."""

import shutil
from urllib.parse import urlsplit

import pytest
from conftest import ALT_KERNEL, BROKEN_KERNEL
from harness import NotebookServer, url_path
from pages import NotebookPage, TreePage

pytestmark = pytest.mark.browser

# Records every XMLHttpRequest the tree page makes: method, URL, and when its
# answer arrived (epoch ms, the same clock as the new window's performance.timeOrigin).
RECORD_XHR = """
window.__xhr = [];
var open = XMLHttpRequest.prototype.open;
XMLHttpRequest.prototype.open = function (method, url) {
    var entry = {method: method, url: url, done: null, status: null};
    window.__xhr.push(entry);
    this.addEventListener('readystatechange', function () {
        if (this.readyState === 4) {  // before jQuery's handlers run
            entry.done = performance.timeOrigin + performance.now();
            entry.status = this.status;
        }
    });
    return open.apply(this, arguments);
};
"""


@pytest.fixture
def tree(browser, server):
    yield TreePage(browser, server)
    browser.execute_script("try { localStorage.removeItem('nbext_pkg.last_kernel'); } catch (e) {}")


def sessions_for(server, path):
    return [s for s in server.sessions() if s["path"] == path]


def test_button_and_kernel_menu(tree, server, fresh_dir):
    tree.open(fresh_dir)
    tree.wait_kernels()
    # Next to Upload and New, in that order.
    assert tree.js(
        "var g = document.getElementById('nbext_pkg-new-notebook').parentElement;"
        "return [g.previousElementSibling.id, g.nextElementSibling.id];"
    ) == ["alternate_upload", "new-buttons"]
    specs = server.api("GET", "api/kernelspecs", expect=200).json()
    default = specs["default"]
    others = sorted(
        (k for k in specs["kernelspecs"] if k != default),
        key=lambda k: specs["kernelspecs"][k]["spec"]["display_name"],
    )
    expected = [
        (f"nbext_pkg-kernel-{name}", name, specs["kernelspecs"][name]["spec"]["display_name"])
        for name in [default, *others]
    ]
    items = tree.kernel_items()
    assert [(i, n) for i, n, _ in items] == [(i, n) for i, n, _ in expected]
    tree.find("#nbext_pkg-kernel-toggle").click()
    labels = [text for _, _, text in tree.kernel_items()]
    assert labels[0] == f"{expected[0][2]} (default)"
    assert labels[1:] == [label for _, _, label in expected[1:]]
    assert tree.button_kernel() == default


def test_click_starts_the_session_before_the_page_opens(tree, server, fresh_dir, notebook_root):
    tree.open(fresh_dir)
    tree.wait_kernels()
    kernels_before = len(server.kernels())
    tree.js(RECORD_XHR)
    tree_window = tree.driver.current_window_handle
    tree.new_window_after(tree.click_new, "the new notebook's window")
    page = NotebookPage(tree.driver, server).wait_loaded().wait_kernel()

    path = f"{fresh_dir}/Untitled.ipynb"
    # Opened with the kernel's name, as the stock New menu opens a notebook (the page
    # then takes the session it finds for that kernel, whenever its kernel list comes),
    # which then leaves the address: a reload takes the notebook's kernel of the time.
    assert page.js("return performance.getEntriesByType('navigation')[0].name") == (
        server.page_url("notebooks", path) + "?kernel_name=python3"
    )
    page.wait(
        lambda d: d.current_url == server.page_url("notebooks", path), "the address without kernel_name"
    )
    assert page.path == path
    assert (notebook_root / path).is_file()

    # Exactly one kernel, the default one, and the page uses it.
    (session,) = sessions_for(server, path)
    assert len(server.kernels()) == kernels_before + 1
    assert session["kernel"]["name"] == "python3"
    assert page.page_ids() == {
        "session_id": session["id"],
        "kernel_id": session["kernel"]["id"],
        "kernel_name": "python3",
    }

    # The tree page asked for the session, and the notebook page began loading
    # only after that request had been answered.
    opened_at = page.js("return performance.timeOrigin")
    tree.driver.switch_to.window(tree_window)
    posts = [x for x in tree.js("return window.__xhr") if x["method"] == "POST"]
    contents_url = server.base_url + "api/contents/" + url_path(fresh_dir)
    sessions_url = server.base_url + "nbext_pkg/api/sessions"  # ours: a warm kernel when there is one
    assert [(urlsplit(x["url"]).path, x["status"]) for x in posts] == [
        (contents_url, 201),
        (sessions_url, 201),
    ]
    session_posts = posts[1:]
    assert session_posts[0]["done"] <= opened_at


def test_kernel_menu_choice_is_used_and_remembered(tree, server, fresh_dir):
    tree.open(fresh_dir)
    tree.wait_kernels()
    tree.new_window_after(lambda: tree.pick_kernel(ALT_KERNEL), "the new notebook's window")
    NotebookPage(tree.driver, server).wait_loaded().wait_kernel()
    (session,) = sessions_for(server, f"{fresh_dir}/Untitled.ipynb")
    assert session["kernel"]["name"] == ALT_KERNEL

    # Back on a freshly loaded tree page, the button itself uses that kernel.
    tree.driver.switch_to.window(tree.driver.window_handles[0])
    tree.open(fresh_dir)
    tree.wait_kernels()
    assert tree.button_kernel() == ALT_KERNEL
    tree.new_window_after(tree.click_new, "the second notebook's window")
    NotebookPage(tree.driver, server).wait_loaded()
    (session,) = sessions_for(server, f"{fresh_dir}/Untitled1.ipynb")
    assert session["kernel"]["name"] == ALT_KERNEL


def test_same_window_when_the_page_target_says_so(tree, server, fresh_dir):
    tree.open(fresh_dir)
    tree.wait_kernels()
    tree.js("Jupyter._target = '_self';")
    tree.click_new()
    page = NotebookPage(tree.driver, server).wait_loaded()
    assert len(tree.driver.window_handles) == 1
    assert page.path == f"{fresh_dir}/Untitled.ipynb"


def test_create_failure_closes_the_window_and_shows_the_server_message(
    tree, server, fresh_dir, notebook_root
):
    tree.open(fresh_dir)
    tree.wait_kernels()
    shutil.rmtree(notebook_root / fresh_dir)  # the folder goes away under the page
    kernels_before = len(server.kernels())
    tree.click_new()
    dialog = tree.modal("#nbext_pkg-error-dialog", "the error dialog")
    assert len(tree.driver.window_handles) == 1, "the blank window should have been closed"
    assert dialog.find_element("css selector", ".modal-title").text == "Creating the notebook failed"
    message = dialog.find_element("css selector", ".nbext_pkg-server-message").text
    # The server's own sentence, word for word (notebook 6 doubles its '%').
    answer = server.api("POST", "api/contents/" + url_path(fresh_dir), json={"type": "notebook"})
    assert answer.status_code == 404
    assert message == answer.json()["message"]
    # notebook 6 writes "/<folder>", jupyter_server "<folder>"; both double the '%'.
    assert message.startswith("No such directory: ")
    assert fresh_dir.replace("%", "%%") in message
    assert not (notebook_root / fresh_dir).exists()
    assert len(server.kernels()) == kernels_before
    tree.close_modal("#nbext_pkg-error-dialog", "#nbext_pkg-dialog-close")


@pytest.mark.refused_request("nbext_pkg/api/sessions", "500")
def test_kernel_failure_keeps_the_notebook_and_offers_to_open_it(tree, server, fresh_dir, notebook_root):
    tree.open(fresh_dir)
    tree.wait_kernels()
    kernels_before = len(server.kernels())
    tree.pick_kernel(BROKEN_KERNEL)
    dialog = tree.modal("#nbext_pkg-error-dialog", "the kernel error dialog")
    assert len(tree.driver.window_handles) == 1, "the blank window should have been closed"
    path = f"{fresh_dir}/Untitled.ipynb"
    assert dialog.find_element("css selector", ".modal-title").text == "The kernel did not start"
    body = dialog.find_element("css selector", ".nbext_pkg-kernel-failed").text
    assert f"The notebook \u201c{path}\u201d was created and saved" in body
    assert f"kernel \u201c{BROKEN_KERNEL}\u201d could not start" in body
    message = dialog.find_element("css selector", ".nbext_pkg-server-message").text
    # notebook 6 answers "Unhandled error" with a traceback, whose last line the
    # dialog shows; jupyter_server sends the exception's text itself.
    cause = "[Errno 2] No such file or directory: '/nonexistent/nbext-pkg-kernel'"
    assert message == cause  # the reason itself, on both servers (our route says it so)
    assert (notebook_root / path).is_file(), "the new notebook must stay on disk"
    assert sessions_for(server, path) == []
    assert len(server.kernels()) == kernels_before

    tree.new_window_after(
        lambda: tree.clickable("#nbext_pkg-open-anyway").click(), "the notebook opened from the dialog"
    )
    page = NotebookPage(tree.driver, server).wait_loaded()
    assert page.path == path


def test_new_notebook_in_the_root_folder(tree, server, notebook_root):
    tree.open("")
    tree.wait_kernels()
    tree.new_window_after(tree.click_new, "the new notebook's window")
    page = NotebookPage(tree.driver, server).wait_loaded()
    path = page.path
    assert "/" not in path and path.startswith("Untitled") and path.endswith(".ipynb")
    assert (notebook_root / path).is_file()
    (notebook_root / path).unlink()


@pytest.fixture
def late_kernelspecs_server(jupyter_env, flavour, tmp_path, browser):
    """A server of the test's flavour whose kernel list answers two seconds late, the
    browser logged in to it."""
    from slow_kernelspecs import config_file

    root = tmp_path / "root"
    (root / "late").mkdir(parents=True)
    # A base URL of its own: its cookies (_xsrf among them) must not cover the
    # session server's pages, which this browser goes back to.
    srv = NotebookServer(
        jupyter_env,
        root,
        base_url="/late-kernelspecs/",
        flavour=flavour,
        extra_args=[f"--config={config_file(str(tmp_path))}"],
        test_modules=True,
    ).start()
    try:
        assert "slow_kernelspecs: GET api/kernelspecs answers late" in srv.log_text()
        browser.get(srv.url + f"tree?token={srv.token}")
        yield srv
    finally:
        srv.stop()


def test_the_new_page_keeps_the_kernel_started_for_it_when_the_kernel_list_is_late(
    browser, late_kernelspecs_server
):
    # The page finds its session at once and learns the kernels afterwards: the stock
    # page then "changes" to the kernel it already has, throwing the started one away
    # (or, if that restart races the first connection, never getting a kernel) unless
    # it was told the kernel's name when it opened.
    server = late_kernelspecs_server
    tree = TreePage(browser, server).open("late")
    tree.wait_kernels()
    tree.new_window_after(lambda: tree.pick_kernel(ALT_KERNEL), "the new notebook's window")
    page = NotebookPage(browser, server).wait_loaded().wait_kernel()
    # Once the kernel list is in, whatever the page makes of it has begun (a kernel
    # change sets _session_starting in the same turn): wait for that to settle.
    page.wait(lambda d: page.js("return Jupyter.kernelselector._loaded"), "the kernel list", timeout=30)
    page.wait(
        lambda d: page.js(
            "var n = Jupyter.notebook; return !n._session_starting && n.kernel.is_connected();"
        ),
        "the page's kernel after the kernel list came",
    )
    (session,) = sessions_for(server, "late/Untitled.ipynb")
    assert session["kernel"]["name"] == ALT_KERNEL
    assert page.page_ids()["kernel_id"] == session["kernel"]["id"]
    kernel_lines = [line for line in server.log_text().splitlines() if "] Kernel " in line]
    assert len(kernel_lines) == 1 and "Kernel started:" in kernel_lines[0], kernel_lines
