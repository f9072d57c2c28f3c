"""The page's self-check: when the page modules are enabled but the server was
not restarted (our server extension does not answer), the pages say so in a
dismissable notice, and Download as > Notebook bundle explains itself instead
of leading to a 404."""

import nbformat
import pytest
from conftest import nbext_pkg_errors
from harness import JupyterEnv, NotebookServer
from pages import NotebookPage, TreePage
from selenium.webdriver.common.by import By

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server_without_extension(flavour, tmp_path_factory):
    """The page modules and the bundler enabled, the server extension not: what a
    server started before `pip install` (or with the extension disabled) looks like."""
    base = tmp_path_factory.mktemp(f"no-server-part-{flavour}")
    jenv = JupyterEnv(base / "env")
    prefix = "nbclassic-" if flavour == "nbclassic" else ""
    # Copied, as pip does: without our server part, nothing serves symlinked files
    # (tornado 6.5.9+ refuses links out of the folder it serves).
    jenv.jupyter(f"{prefix}extension" if prefix else "nbextension", "install", "--py", "nbext_pkg", "--user")
    jenv.jupyter(f"{prefix}extension" if prefix else "nbextension", "enable", "--py", "nbext_pkg", "--user")
    jenv.jupyter(f"{prefix}bundlerextension", "enable", "--py", "nbext_pkg", "--user")
    root = base / "root"
    root.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), str(root / "plain é.ipynb"))
    # Its own base URL: cookies ignore ports, and an `_xsrf` cookie for "/" would
    # shadow the session server's for the rest of the browser's tests.
    srv = NotebookServer(jenv, root, flavour=flavour, base_url="/no-server-part/").start()
    yield srv
    srv.stop()


def take_console(driver):
    entries = []
    for handle in driver.window_handles:
        driver.switch_to.window(handle)
        entries.extend(driver.get_log("browser"))
    return entries


@pytest.fixture
def missing(browser, server_without_extension):
    """The server without our server part, the browser logged in to it."""
    srv = server_without_extension
    assert srv.api("GET", "nbext_pkg/api/status").status_code == 404
    browser.get(srv.url + f"tree?token={srv.token}")
    return srv


def assert_only_the_status_check_failed(driver):
    """The only errors of ours in the console: the status check's own 404."""
    errors = nbext_pkg_errors(take_console(driver))
    assert errors and all("nbext_pkg/api/status" in e["message"] and "404" in e["message"] for e in errors)


def test_the_tree_page_says_the_server_part_is_missing_in_a_dismissable_notice(browser, missing):
    tree = TreePage(browser, missing).open()
    notice = tree.visible("#nbext_pkg-server-missing", "the notice")
    assert "nbext_pkg's server part is not running." in notice.text
    assert "jupyter nbext_pkg doctor" in notice.text
    tree.clickable("#nbext_pkg-notice-close", "the notice's close button").click()
    tree.gone("#nbext_pkg-server-missing", "the dismissed notice")
    assert tree.find("#nbext_pkg-new-notebook").is_displayed()  # needs no server part
    assert_only_the_status_check_failed(browser)


def test_new_notebook_works_without_the_server_part(browser, missing):
    """The session through the stock route, not a 404 from ours."""
    srv = missing
    tree = TreePage(browser, srv).open()
    tree.wait_kernels()
    tree.new_window_after(tree.click_new, "the new notebook's window")
    new = NotebookPage(browser, srv).wait_loaded(ours=False).wait_kernel()
    assert [s["kernel"]["id"] for s in srv.sessions()] == [new.page_ids()["kernel_id"]]
    assert_only_the_status_check_failed(browser)
    srv.api("DELETE", f"api/sessions/{srv.sessions()[0]['id']}", expect=204)


def test_download_as_bundle_explains_itself_instead_of_a_404(browser, missing):
    page = NotebookPage(browser, missing).open("plain é.ipynb")
    page.visible("#nbext_pkg-server-missing", "the notice on the notebook page")
    entry = page.download_as_entry("bundle")
    page.wait(
        lambda d: "disabled" in entry.find_element(By.XPATH, "..").get_attribute("class"),
        "the entry to be greyed out",
    )
    handles = list(browser.window_handles)
    # A click on the element itself: a greyed-out entry does not take hover
    # clicks reliably, and it is our handler that is under test here.
    browser.execute_script("arguments[0].click()", entry)
    dialog = page.modal("#nbext_pkg-server-missing-dialog", "the explanation")
    assert "Restart the server" in dialog.text
    assert browser.window_handles == handles, "no window may open towards a 404"
    page.close_modal("#nbext_pkg-server-missing-dialog", ".modal-header .close")
    assert_only_the_status_check_failed(browser)


def test_no_notice_when_the_server_part_answers(browser, server):
    tree = TreePage(browser, server).open()
    present = browser.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "require(['nbextensions/nbext_pkg/self_check', 'base/js/utils'], function (check, utils) {"
        "  check.server_part(utils.get_body_data('baseUrl')).then(done); });"
    )
    assert present is True
    assert tree.find_all("#nbext_pkg-server-missing") == []
