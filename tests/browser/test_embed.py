"""Embedding: an outer page on another origin (another port of 127.0.0.1)
frames the notebook and learns its session and kernel ids through
postMessage, only when its origin is listed in embed_origins."""

import http.server
import json
import threading
from urllib.parse import quote

import nbformat
import pytest
from conftest import ALT_KERNEL, AWKWARD_BASE_URL, AWKWARD_DIR
from harness import NotebookServer, free_port, wait_until
from pages import Page

pytestmark = pytest.mark.browser

OUTER = b"""<!doctype html><meta charset="utf-8"><title>outer</title>
<iframe id="nb" name="nb" style="width:1200px;height:800px"></iframe>
<script>
window.received = [];
window.addEventListener('message', function (e) {
  window.received.push({origin: e.origin, data: e.data, t: Date.now()});
});
function send(msg) { document.getElementById('nb').contentWindow.postMessage(msg, '*'); }
document.getElementById('nb').src = new URLSearchParams(location.search).get('src');
</script>
"""


class Outer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(OUTER)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def outer_origins():
    """Two outer sites: the first is listed in embed_origins, the second is not."""
    servers = []
    for _ in range(2):
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Outer)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
    yield [f"http://127.0.0.1:{s.server_address[1]}" for s in servers]
    for httpd in servers:
        httpd.shutdown()


@pytest.fixture(scope="module")
def embed_server(jupyter_env, notebook_root, flavour, outer_origins, tmp_path_factory):
    """A server that lets both outer sites frame it (frame-ancestors), with only
    the first listed in the `common` nbconfig section."""
    app = "NotebookApp" if flavour == "notebook" else "ServerApp"
    csp = "frame-ancestors 'self' " + " ".join(outer_origins)
    config = tmp_path_factory.mktemp("embed-config") / "embed_config.py"
    config.write_text(f"c.{app}.tornado_settings = {{'headers': {{'Content-Security-Policy': {csp!r}}}}}\n")
    common = jupyter_env.config_dir / "nbconfig" / "common.json"
    common.write_text(json.dumps({"nbext_pkg": {"embed_origins": [outer_origins[0]]}}))
    srv = NotebookServer(
        jupyter_env,
        notebook_root,
        base_url=AWKWARD_BASE_URL,
        flavour=flavour,
        extra_args=[f"--config={config}"],
    ).start()
    yield srv
    srv.stop()
    common.unlink()


def received(driver):
    return driver.execute_script("return window.received")


def session_messages(driver, since=0):
    return [m for m in received(driver)[since:] if m["data"].get("type") == "nbext_pkg:session"]


def api_session(server, path):
    found = [s for s in server.sessions() if s["path"] == path]
    return found[0] if len(found) == 1 else None


def expected(session, state="idle"):
    return {
        "type": "nbext_pkg:session",
        "path": session["path"],
        "session_id": session["id"],
        "kernel_id": session["kernel"]["id"],
        "kernel_name": session["kernel"]["name"],
        "execution_state": state,
    }


def open_outer(driver, server, origin, path):
    # The login cookie first (same site: 127.0.0.1), then the outer page.
    driver.get(server.url + f"tree?token={server.token}")
    src = server.page_url("notebooks", path) if path.endswith(".ipynb") else server.page_url("tree", path)
    driver.get(f"{origin}/?src={quote(src, safe='')}")


def in_frame(driver, script):
    driver.switch_to.frame("nb")
    try:
        return driver.execute_script(script)
    finally:
        driver.switch_to.default_content()


def wait_message(driver, predicate, what, since=0, timeout=30):
    return wait_until(
        lambda: next((m for m in received(driver)[since:] if predicate(m)), None), timeout, what
    )


def write_notebook(folder, name):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / name))


def frame_a_notebook(browser, server, origin, notebook_root, folder_name, name):
    """A fresh notebook in its own folder, framed by the outer page at ``origin``."""
    folder_rel = f"{AWKWARD_DIR}/{folder_name}"
    folder = notebook_root / folder_rel
    write_notebook(folder, name)
    open_outer(browser, server, origin, f"{folder_rel}/{name}")
    return folder_rel, folder, f"{folder_rel}/{name}"


def untitled(folder):
    return sorted(p.name for p in folder.glob("Untitled*.ipynb"))


def end_sessions(server):
    for s in server.sessions():
        server.api("DELETE", f"api/sessions/{s['id']}")


@pytest.fixture
def framed(browser, embed_server, outer_origins, notebook_root, request):
    """A fresh notebook in a folder of its own (named after the test), framed by the
    listed origin, once its first report has come: (folder_rel, folder, path, report)."""
    folder_rel, folder, path = frame_a_notebook(
        browser,
        embed_server,
        outer_origins[0],
        notebook_root,
        request.node.name.replace("[", " ").rstrip("]"),
        "framed é.ipynb",
    )
    first = wait_message(
        browser,
        lambda m: m["data"].get("execution_state") == "idle" and m["data"].get("kernel_id"),
        "the first report",
    )
    yield folder_rel, folder, path, first
    end_sessions(embed_server)


def test_the_listed_origin_hears_the_ids_once_the_kernel_is_ready(browser, embed_server, framed):
    _, _, path, first = framed
    assert first["origin"] == embed_server.url.split(AWKWARD_BASE_URL)[0]
    assert first["data"] == expected(api_session(embed_server, path))


def test_get_session_is_answered_at_once(browser, embed_server, framed):
    _, _, path, _ = framed
    mark = len(received(browser))
    browser.execute_script("send({type: 'nbext_pkg:get-session'})")
    reply = wait_message(browser, lambda m: True, "the reply to get-session", since=mark)
    assert reply["data"] == expected(api_session(embed_server, path))


def test_a_restart_is_told_as_restarting_then_idle_with_the_same_ids(browser, embed_server, framed):
    _, _, path, first = framed
    mark = len(received(browser))
    in_frame(browser, "Jupyter.notebook.kernel.restart()")
    wait_message(
        browser, lambda m: m["data"].get("execution_state") == "restarting", "restarting", since=mark
    )
    after = wait_message(
        browser,
        lambda m: m["data"].get("execution_state") == "idle",
        "the report after the restart",
        since=mark,
    )
    assert after["data"] == expected(api_session(embed_server, path)) == first["data"]


def test_a_kernel_change_is_told_with_the_new_ids(browser, embed_server, framed):
    _, _, path, first = framed
    mark = len(received(browser))
    in_frame(browser, f"Jupyter.notebook.kernel_selector.set_kernel('{ALT_KERNEL}')")
    changed = wait_message(
        browser,
        lambda m: m["data"].get("kernel_name") == ALT_KERNEL and m["data"].get("execution_state") == "idle",
        "the report after the change",
        since=mark,
    )
    session = wait_until(
        lambda: (s := api_session(embed_server, path)) and s["kernel"]["name"] == ALT_KERNEL and s,
        30,
        "the server's session to change kernel",
    )
    assert changed["data"] == expected(session)
    assert changed["data"]["kernel_id"] != first["data"]["kernel_id"]


def test_a_rename_is_told_with_the_path_the_server_writes(browser, embed_server, framed):
    folder_rel, _, _, _ = framed
    mark = len(received(browser))
    in_frame(browser, "Jupyter.notebook.rename('renamed #1 é.ipynb')")
    renamed = wait_message(
        browser,
        lambda m: m["data"].get("path", "").endswith("renamed #1 é.ipynb"),
        "the report after the rename",
        since=mark,
    )
    path = f"{folder_rel}/renamed #1 é.ipynb"
    session = wait_until(lambda: api_session(embed_server, path), 30, "the server's renamed session")
    assert renamed["data"] == expected(session)


def test_a_burst_of_cells_is_told_in_coalesced_reports_ending_idle(browser, embed_server, framed):
    """Busy and idle many times, told at most once per 100 ms, the last report idle."""
    _, _, path, _ = framed
    mark = len(received(browser))
    in_frame(
        browser,
        "var nb = Jupyter.notebook; for (var i = 0; i < 40; i++) {"
        "  nb.insert_cell_at_bottom('code').set_text('import time; time.sleep(0.02)'); }"
        "nb.execute_all_cells();",
    )
    done = (
        "return Jupyter.notebook.get_cells().every(function (c) { return c.cell_type !== 'code'"
        " || (c.input_prompt_number !== '*' && c.input_prompt_number !== undefined); })"
    )
    wait_until(lambda: in_frame(browser, done), 60, "the 40 cells to run")
    reports = wait_until(
        lambda: (r := session_messages(browser, mark)) and r[-1]["data"]["execution_state"] == "idle" and r,
        30,
        "the last report: idle",
    )
    assert any(m["data"]["execution_state"] == "busy" for m in reports)
    assert reports[-1]["data"] == expected(api_session(embed_server, path))
    span = reports[-1]["t"] - reports[0]["t"]
    assert len(reports) <= span / 100 + 2, (len(reports), span)


def test_malformed_requests_change_nothing_and_a_valid_one_makes_one_notebook(browser, embed_server, framed):
    """From the listed origin, too: only a well-formed new-notebook with a kernel that
    exists makes a notebook, exactly one, with that kernel."""
    folder_rel, folder, _, _ = framed
    before = untitled(folder)
    for bad in [
        "'nbext_pkg:new-notebook'",
        "{type: 'nbext_pkg:new-notebook', kernel_name: 'no-such-kernel'}",
        "{type: 'nbext_pkg:new-notebook', kernel_name: ''}",
        "{type: 'nbext_pkg:new-notebook', kernel_name: 5}",
        "{type: 'nbext_pkg:new-notebook', kernel_name: null}",
        "{type: 'nbext_pkg:new-notebook', path: '/etc'}",
        "{type: 'nbext_pkg:nope'}",
        "[1, 2]",
    ]:
        browser.execute_script(f"send({bad})")
    mark = len(received(browser))
    browser.execute_script("send({type: 'nbext_pkg:new-notebook', kernel_name: 'python3'})")
    report = wait_message(
        browser,
        lambda m: (
            m["data"].get("path", "").startswith(f"{folder_rel}/Untitled")
            and m["data"].get("execution_state") == "idle"
        ),
        "the new notebook's report",
        since=mark,
    )
    created = untitled(folder)
    assert len(created) == len(before) + 1, created
    new_session = api_session(embed_server, report["data"]["path"])
    assert report["data"] == expected(new_session)
    assert new_session["kernel"]["name"] == "python3"


def test_the_tree_page_reports_its_folder_and_starts_notebooks_with_the_default_kernel(
    browser, embed_server, outer_origins, notebook_root
):
    server, allowed = embed_server, outer_origins[0]
    folder_rel = f"{AWKWARD_DIR}/embed tree"
    (notebook_root / folder_rel / "sub ü").mkdir(parents=True, exist_ok=True)
    open_outer(browser, server, allowed, folder_rel)
    wait_message(
        browser,
        lambda m: m["data"] == {"type": "nbext_pkg:tree", "path": folder_rel},
        "the tree page's report",
    )
    mark = len(received(browser))
    in_frame(
        browser,
        f"Jupyter.notebook_list.update_location({json.dumps(folder_rel + '/sub ü')});"
        "Jupyter.notebook_list.load_list();",
    )
    wait_message(
        browser,
        lambda m: m["data"] == {"type": "nbext_pkg:tree", "path": folder_rel + "/sub ü"},
        "the report after navigating",
        since=mark,
    )
    mark = len(received(browser))
    browser.execute_script("send({type: 'nbext_pkg:new-notebook'})")
    report = wait_message(
        browser,
        lambda m: m["data"].get("type") == "nbext_pkg:session" and m["data"].get("execution_state") == "idle",
        "the new notebook's report",
        since=mark,
    )
    assert report["data"]["path"] == f"{folder_rel}/sub ü/Untitled.ipynb"
    default = server.api("GET", "api/kernelspecs", expect=200).json()["default"]
    assert report["data"]["kernel_name"] == default
    assert report["data"] == expected(api_session(server, report["data"]["path"]))
    end_sessions(server)


def test_an_unlisted_origin_hears_nothing_and_triggers_nothing(
    browser, embed_server, outer_origins, notebook_root
):
    server = embed_server
    _, folder, path = frame_a_notebook(
        browser, server, outer_origins[1], notebook_root, "embed other", "not yours.ipynb"
    )
    page = Page(browser, server)
    # The notebook runs in the frame (framing is allowed), its kernel gets ready...
    page.wait(
        lambda d: in_frame(
            d,
            "var k = window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel;"
            "return !!(k && k.info_reply && k.info_reply.status === 'ok')",
        ),
        "the framed notebook's kernel",
    )
    sessions_before = {s["id"] for s in server.sessions()}
    browser.execute_script(
        "send({type: 'nbext_pkg:new-notebook', kernel_name: 'python3'});"
        "send({type: 'nbext_pkg:get-session'});"
    )
    # ...and our module says it ignored the page's messages (so they did arrive).
    log = []
    wait_until(
        lambda: (
            log.extend(browser.get_log("browser"))
            or any("nbext_pkg: ignored a message" in e["message"] for e in log)
        ),
        30,
        "the ignored-message warning",
    )
    assert any("is not in embed_origins" in e["message"] for e in log)
    assert received(browser) == []
    assert untitled(folder) == []
    assert {s["id"] for s in server.sessions()} == sessions_before
    assert in_frame(browser, "return Jupyter.notebook.notebook_path") == path
    end_sessions(server)
