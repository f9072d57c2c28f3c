"""Session-wide real parts: a temporary Jupyter environment with nbext_pkg
installed by the real commands, one notebook server under a base URL that
needs escaping, and one headless Chromium."""

import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from harness import AWKWARD_BASE_URL, REPO, JupyterEnv, NotebookServer, start_chromium

# The stores off this disk: PostgreSQL, S3 (tests/storage.py); SIGTERM as Ctrl-C (tests/interrupt.py).
pytest_plugins = ["storage", "interrupt"]

ARTIFACTS = REPO / "test-artifacts"
# Folder and notebook names our users really have: spaces, '#', '%', '?' and
# letters outside ASCII, in the places where URL escaping goes wrong.
AWKWARD_DIR = "sp ace #1 %41 ?q ünï 中文"
AWKWARD_NOTEBOOK = f"{AWKWARD_DIR}/na me #% ?é.ipynb"
ALT_KERNEL = "nbext-alt"
BROKEN_KERNEL = "nbext-broken"


def pytest_sessionstart(session):
    # Artifacts describe the last run only: that of the browser tests (scripts/test's
    # runs without a browser write none and leave them be).
    if not os.environ.get("NBEXT_PKG_MATRIX_RUN"):
        shutil.rmtree(ARTIFACTS, ignore_errors=True)
    # Every test server reads this environment's own config folder too: had
    # something enabled nbext_pkg there, tests of set-ups without it would lie.
    import sys

    env_config = Path(sys.prefix, "etc", "jupyter")
    leaked = [str(p) for p in env_config.rglob("*.json") if '"nbext_pkg' in p.read_text(errors="replace")]
    if leaked:
        raise pytest.UsageError(
            "nbext_pkg is enabled in the test environment's own config ("
            + ", ".join(leaked)
            + "): run `jupyter nbext_pkg uninstall --sys-prefix` with its Python first"
        )


def pytest_collection_modifyitems(config, items):
    marker = config.getoption("-m")
    # CI runs everything: a marker expression could quietly drop the browser tests.
    # scripts/test splits the suite in two, by these two expressions only: the
    # tests without a browser under every declared Python, the browser tests
    # under 3.11 alone.
    split_run = (os.environ.get("NBEXT_PKG_MATRIX_RUN") and marker == "not browser") or (
        os.environ.get("NBEXT_PKG_BROWSER_RUN") and marker == "browser"
    )
    if os.environ.get("CI") == "true" and marker and not split_run:
        raise pytest.UsageError("CI runs the whole suite; do not pass -m")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def failed(request):
    return any(
        getattr(request.node, f"rep_{when}", None) is not None and getattr(request.node, f"rep_{when}").failed
        for when in ("setup", "call")
    )


def artifact_dir(request):
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
    folder = ARTIFACTS / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_notebook(path, kernel_name=None, cells=()):
    nb = nbformat.v4.new_notebook()
    if kernel_name:
        nb.metadata["kernelspec"] = {
            "name": kernel_name,
            "display_name": kernel_name,
            "language": "python",
        }
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture(scope="session")
def jupyter_env(tmp_path_factory):
    jenv = JupyterEnv(tmp_path_factory.mktemp("jupyter"))
    jenv.add_kernelspec(ALT_KERNEL, "Python 3 (alt)")
    jenv.add_kernelspec(
        BROKEN_KERNEL,
        "Broken kernel",
        argv=["/nonexistent/nbext-pkg-kernel", "-f", "{connection_file}"],
    )
    # One environment serves both servers, each set up with its own commands
    # (nbextension files and nbconfig are shared; server config is not).
    jenv.install_nbext_pkg()
    jenv.install_nbext_pkg(flavour="nbclassic")
    return jenv


@pytest.fixture(scope="session")
def notebook_root(tmp_path_factory, flavour):
    root = tmp_path_factory.mktemp(f"root-{flavour}")
    (root / AWKWARD_DIR).mkdir()
    (root / "plain").mkdir()
    write_notebook(root / AWKWARD_NOTEBOOK, kernel_name=ALT_KERNEL)
    write_notebook(root / "plain" / "python3.ipynb", kernel_name="python3")
    return root


@pytest.fixture(scope="session", params=NotebookServer.FLAVOURS)
def flavour(request):
    """Which server the test runs against: notebook 6's own, or nbclassic on jupyter_server."""
    return request.param


@pytest.fixture(scope="session")
def server(jupyter_env, notebook_root, flavour):
    srv = NotebookServer(jupyter_env, notebook_root, base_url=AWKWARD_BASE_URL, flavour=flavour).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def downloads(tmp_path_factory):
    """Where the browser saves downloads."""
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="session")
def chromium(downloads, server):
    for tool in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not Path(tool).exists():
            pytest.fail(f"{tool} is missing: run ./scripts/test, which installs it")
    driver = start_chromium(download_dir=downloads)
    # Log in once: the token in the URL sets the login cookie.
    driver.get(server.url + f"tree?token={server.token}")
    yield driver
    driver.quit()


def nbext_pkg_errors(entries):
    """Browser console errors that come from nbext_pkg's own modules."""
    return [e for e in entries if e.get("level") == "SEVERE" and "nbext_pkg" in e.get("message", "")]


@pytest.fixture
def browser(request, chromium, server):
    """The session's browser, left with one window and no stray kernels."""
    main = chromium.window_handles[0]
    sessions_before = {s["id"] for s in server.sessions()}
    log_before = len(server.log_text())
    console = []
    yield chromium
    for handle in chromium.window_handles:
        chromium.switch_to.window(handle)
        console.extend(chromium.get_log("browser"))
    if failed(request):
        folder = artifact_dir(request)
        for i, handle in enumerate(chromium.window_handles):
            chromium.switch_to.window(handle)
            chromium.save_screenshot(str(folder / f"window-{i}.png"))
            (folder / f"window-{i}.url").write_text(chromium.current_url)
        (folder / "console.json").write_text(json.dumps(console, indent=1))
        (folder / "server.log").write_text(server.log_text()[log_before:])
    for handle in chromium.window_handles:
        if handle != main:
            chromium.switch_to.window(handle)
            chromium.close()
    chromium.switch_to.window(main)
    chromium.get("about:blank")
    for session in server.sessions():
        if session["id"] not in sessions_before:
            server.api("DELETE", f"api/sessions/{session['id']}")
    if not failed(request):
        # The browser logs every refused request; those a test makes on purpose are named.
        meant = [m.args for m in request.node.iter_markers("refused_request")]
        errors = [
            e
            for e in nbext_pkg_errors(console)
            if not (
                e.get("source") == "network"
                and any(all(text in e.get("message", "") for text in texts) for texts in meant)
            )
        ]
        assert errors == [], "nbext_pkg logged errors in the browser console"


@pytest.fixture
def fresh_dir(notebook_root, request):
    """An empty folder with an awkward name for one test's new notebooks."""
    name = f"{AWKWARD_DIR} {re.sub(r'[^a-z]+', '-', request.node.name)[:40]}"
    folder = notebook_root / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    return name
