"""New notebook with a warm kernel pool, in headless Chromium: the tree page's
button and the notebook page's File > New notebook each get a pooled kernel,
already in the notebook's folder, and the first cell runs as the first."""

import json
import os

import pytest
from conftest import AWKWARD_BASE_URL, AWKWARD_DIR
from harness import NotebookServer, start_chromium, wait_until
from pages import NotebookPage, TreePage

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def pooled_server(jupyter_env, notebook_root, flavour):
    srv = NotebookServer(
        jupyter_env,
        notebook_root,
        base_url=AWKWARD_BASE_URL,
        flavour=flavour,
        extra_args=[
            f"--NbextPkg.kernel_pool={json.dumps({'python3': 1})}",
            "--NbextPkg.kernel_pool_refill_delay=0.5",
        ],
    ).start()
    yield srv
    srv.stop()


def warm_ids(server):
    ready = server.api("GET", "nbext_pkg/api/kernel_pool", expect=200).json()["kernels"]["python3"]["ready"]
    return [k["kernel_id"] for k in ready]


def first_cell_output(page, code):
    page.js("var c = Jupyter.notebook.get_cell(0); c.set_text(arguments[0]); c.execute();", code)
    return page.wait(
        lambda d: d.execute_script(
            "var c = Jupyter.notebook.get_cell(0); var o = c.output_area.outputs;"
            "return o.length && c.input_prompt_number !== '*' && "
            "[c.input_prompt_number,"
            " o.map(function (x) { return x.text || (x.data && x.data['text/plain']); }).join('')];"
        ),
        "the first cell's output",
    )


def test_new_notebook_takes_a_warm_kernel_from_the_tree_and_the_notebook_page(
    browser, pooled_server, notebook_root
):
    srv = pooled_server
    folder = f"{AWKWARD_DIR}/warm é"
    (notebook_root / folder).mkdir(parents=True, exist_ok=True)
    browser.get(srv.url + f"tree?token={srv.token}")
    first = wait_until(lambda: warm_ids(srv), 60, "a warm kernel")[0]
    try:
        tree = TreePage(browser, srv).open(folder)
        tree.wait_kernels()
        tree.new_window_after(tree.click_new, "the new notebook's window")
        page = NotebookPage(browser, srv).wait_loaded().wait_kernel()
        assert page.page_ids()["kernel_id"] == first
        count, text = first_cell_output(page, "import os; print(os.getcwd())")
        assert count == 1 and text.strip() == os.path.realpath(notebook_root / folder)

        # From that notebook page, File > New notebook: the next warm kernel, not this one.
        second = wait_until(lambda: [k for k in warm_ids(srv) if k != first], 60, "the refill")[0]
        page.new_window_after(
            lambda: page.menu("#filelink", "#nbext_pkg-new-notebook-menu a"), "the second notebook's window"
        )
        other = NotebookPage(browser, srv).wait_loaded().wait_kernel()
        assert other.page_ids()["kernel_id"] == second
        assert first_cell_output(other, "1+1") == [1, "2"]
        assert sorted(k["id"] for k in srv.kernels()) == sorted([first, second])
    finally:
        for s in srv.sessions():
            srv.api("DELETE", f"api/sessions/{s['id']}")


def main_script_transfer(driver):
    """Bytes the notebook page's main script came over the network with (0: from the cache)."""
    return driver.execute_script(
        "var e = performance.getEntriesByType('resource').filter(function (r) {"
        "  return r.name.indexOf('/notebook/js/main.min.js') >= 0; });"
        "return e.length ? e[0].transferSize : null;"
    )


@pytest.mark.parametrize("warmed", [True, False], ids=["tree page first", "notebook page alone"])
def test_the_tree_page_puts_the_notebook_pages_files_in_the_browsers_cache(server, notebook_root, warmed):
    urls = server.api("GET", "nbext_pkg/api/warm", expect=200).json()["urls"]
    assert any("/notebook/js/main.min.js?v=" in u for u in urls)
    for url in urls:  # only what the server lets browsers keep
        cache = server.http.head(f"http://127.0.0.1:{server.port}{url}").headers.get("Cache-Control", "")
        assert "max-age=" in cache and "no-cache" not in cache, (url, cache)
    driver = start_chromium()  # a profile of its own: an empty cache
    try:
        if warmed:
            driver.get(server.page_url("tree", "plain") + f"?token={server.token}")
            tree = TreePage(driver, server)
            tree.wait(
                lambda d: (
                    sorted(
                        d.execute_script(
                            "return Array.prototype.map.call("
                            "document.querySelectorAll('link[data-nbext-pkg=warm]'),"
                            " function (l) { return l.getAttribute('href'); });"
                        )
                    )
                    == sorted(urls)
                ),
                "the prefetch links",
            )
            tree.wait(
                lambda d: d.execute_script(
                    "return Array.prototype.every.call("
                    "document.querySelectorAll('link[data-nbext-pkg=warm]'),"
                    " function (l) { return l.getAttribute('data-nbext-pkg-state') === 'loaded'; });"
                ),
                "the notebook page's files to arrive",
            )
            page = NotebookPage(driver, server)
            driver.get(server.page_url("notebooks", "plain", "python3.ipynb"))
            page.wait_loaded()
            assert main_script_transfer(driver) == 0  # from the cache
        else:
            driver.get(server.page_url("notebooks", "plain", "python3.ipynb") + f"?token={server.token}")
            NotebookPage(driver, server).wait_loaded()
            assert main_script_transfer(driver) > 1_000_000  # the stock cold load, for contrast
    finally:
        driver.quit()
        for s in server.sessions():
            server.api("DELETE", f"api/sessions/{s['id']}")
