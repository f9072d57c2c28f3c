"""The notebook page (static/notebook.js, static/session_info.js): the New
notebook action and the Session info dialog, in headless Chromium against a
real server under /user/t%C3%A9st@x/, with a notebook named with spaces, '#',
'%', '?' and letters outside ASCII."""

import shutil

import pytest
from conftest import ALT_KERNEL, AWKWARD_NOTEBOOK, BROKEN_KERNEL, write_notebook
from pages import NotebookPage

pytestmark = pytest.mark.browser

NAME = AWKWARD_NOTEBOOK.rsplit("/", 1)[1]


@pytest.fixture
def notebook(browser, server, notebook_root, fresh_dir):
    """An awkwardly named notebook that uses the alt kernel, open and ready."""
    shutil.copy(notebook_root / AWKWARD_NOTEBOOK, notebook_root / fresh_dir / NAME)
    page = NotebookPage(browser, server).open(f"{fresh_dir}/{NAME}").wait_kernel()
    return page


def session_of(server, path):
    (session,) = [s for s in server.sessions() if s["path"] == path]
    return session


def expected_info(server, path, display_name):
    session = session_of(server, path)
    kernel = session["kernel"]
    return {
        "path": path,
        "session_id": session["id"],
        "kernel_id": kernel["id"],
        "kernel_name": kernel["name"],
        "display_name": display_name,
        "execution_state": "idle",
        "connection_file": f"kernel-{kernel['id']}.json",
        "console": f"jupyter console --existing kernel-{kernel['id']}.json",
    }


def test_actions_toolbar_and_menu_items(notebook):
    assert notebook.js(
        "return ['nbext_pkg:new-notebook', 'nbext_pkg:show-session-info']"
        ".map(function (a) { return Jupyter.actions.exists(a); })"
    ) == [True, True]
    buttons = notebook.find_all("#nbext_pkg-toolbar button")
    assert [(b.get_attribute("id"), b.get_attribute("data-jupyter-action")) for b in buttons] == [
        ("nbext_pkg-new-notebook-button", "nbext_pkg:new-notebook"),
        ("nbext_pkg-session-info-button", "nbext_pkg:show-session-info"),
    ]
    # The File menu item sits right after the stock New Notebook submenu.
    assert (
        notebook.js("return document.getElementById('nbext_pkg-new-notebook-menu').previousElementSibling.id")
        == "new_notebook"
    )
    assert (
        notebook.js(
            "var items = document.querySelectorAll('#kernel_menu > li');return items[items.length - 1].id"
        )
        == "nbext_pkg-session-info-menu"
    )


@pytest.mark.parametrize("trigger", ["file-menu", "toolbar"])
def test_new_notebook_in_this_folder_with_this_kernel(notebook, server, fresh_dir, notebook_root, trigger):
    kernels_before = len(server.kernels())
    if trigger == "file-menu":
        click = lambda: notebook.menu("#filelink", "#nbext_pkg-new-notebook-menu a")  # noqa: E731
    else:
        click = lambda: notebook.clickable("#nbext_pkg-new-notebook-button").click()  # noqa: E731
    notebook.new_window_after(click, "the new notebook's window")
    page = NotebookPage(notebook.driver, server).wait_loaded().wait_kernel()
    path = f"{fresh_dir}/Untitled.ipynb"
    assert page.path == path
    assert page.js("return performance.getEntriesByType('navigation')[0].name") == (
        server.page_url("notebooks", path) + f"?kernel_name={ALT_KERNEL}"
    )
    page.wait(
        lambda d: d.current_url == server.page_url("notebooks", path), "the address without kernel_name"
    )
    assert (notebook_root / path).is_file()
    session = session_of(server, path)
    assert session["kernel"]["name"] == ALT_KERNEL
    assert len(server.kernels()) == kernels_before + 1
    assert page.page_ids()["kernel_id"] == session["kernel"]["id"]


def test_session_info_agrees_with_the_server_and_follows_the_kernel(notebook, server, fresh_dir):
    path = f"{fresh_dir}/{NAME}"
    notebook.open_session_info()
    want = expected_info(server, path, "Python 3 (alt)")
    assert notebook.session_info_values() == want

    # Restart: same ids, and the dialog shows the state going through restarting.
    notebook.js(
        "window.__states = [];"
        "Jupyter.notebook.events.on('kernel_restarting.Kernel kernel_ready.Kernel', function () {"
        "  window.__states.push(document.querySelector("
        "    '#nbext_pkg-session-info-dialog tr[data-field=execution_state] code').textContent); });"
        "Jupyter.notebook.kernel.restart();"
    )
    notebook.wait(lambda d: notebook.js("return window.__states.length >= 2"), "waiting for the restart")
    assert notebook.js("return window.__states")[:2] == ["restarting", "idle"]
    notebook.wait(
        lambda d: notebook.session_info_values() == expected_info(server, path, "Python 3 (alt)"),
        "waiting for the dialog to settle after the restart",
    )
    assert notebook.session_info_values()["kernel_id"] == want["kernel_id"]

    # Change the kernel: a new session and a new kernel, shown while the dialog is open.
    notebook.js("Jupyter.notebook.kernel_selector.set_kernel('python3');")
    notebook.wait(
        lambda d: session_of(server, path)["kernel"]["name"] == "python3",
        "waiting for the server to switch kernels",
    )
    notebook.wait_kernel()
    changed = expected_info(server, path, "Python 3 (ipykernel)")
    notebook.wait(
        lambda d: notebook.session_info_values() == changed, "waiting for the dialog to show the new kernel"
    )
    assert changed["session_id"] != want["session_id"]
    assert changed["kernel_id"] != want["kernel_id"]
    notebook.close_modal("#nbext_pkg-session-info-dialog", "#nbext_pkg-session-info-close")


def test_session_info_from_toolbar_and_copy_button(notebook, server, fresh_dir):
    driver = notebook.driver
    driver.execute_cdp_cmd(
        "Browser.grantPermissions",
        {
            "origin": f"http://127.0.0.1:{server.port}",
            "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"],
        },
    )
    notebook.clickable("#nbext_pkg-session-info-button").click()
    dialog = notebook.modal("#nbext_pkg-session-info-dialog", "the Session info dialog")
    kernel_id = session_of(server, f"{fresh_dir}/{NAME}")["kernel"]["id"]
    dialog.find_element("css selector", "tr[data-field=console] .nbext_pkg-copy").click()
    notebook.wait(
        lambda d: (
            "nbext_pkg-copied"
            in dialog.find_element("css selector", "tr[data-field=console] .nbext_pkg-copy").get_attribute(
                "class"
            )
        ),
        "waiting for the copy to finish",
    )
    copied = driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "navigator.clipboard.readText().then(done, function (e) { done('error: ' + e); });"
    )
    assert copied == f"jupyter console --existing kernel-{kernel_id}.json"


def test_session_info_after_shutdown(notebook, server, fresh_dir):
    path = f"{fresh_dir}/{NAME}"
    before = expected_info(server, path, "Python 3 (alt)")
    notebook.js("Jupyter.notebook.shutdown_kernel({confirm: false});")
    notebook.wait(
        lambda d: not [s for s in server.sessions() if s["path"] == path], "waiting for the session to end"
    )
    notebook.open_session_info()
    values = notebook.session_info_values()
    assert values == dict(before, execution_state="dead")
    assert notebook.find("#nbext_pkg-session-info-dialog .nbext_pkg-no-kernel").is_displayed()


def test_session_info_when_the_kernel_never_started(browser, server, notebook_root, fresh_dir):
    path = f"{fresh_dir}/broken.ipynb"
    write_notebook(notebook_root / path, kernel_name=BROKEN_KERNEL)
    page = NotebookPage(browser, server).open(path)
    page.wait(
        lambda d: page.js(
            "return Jupyter.notebook.events && !Jupyter.notebook._session_starting"
            " && !!Jupyter.notebook.session && !Jupyter.notebook.kernel"
        ),
        "waiting for the kernel to fail",
    )
    page.open_session_info()
    values = page.session_info_values()
    assert values == {field: "" for field in values} | {"path": path}
    assert page.find("#nbext_pkg-session-info-dialog .nbext_pkg-no-kernel").is_displayed()
    assert not page.find("#nbext_pkg-session-info-dialog tr[data-field=kernel_id] button").is_enabled()
