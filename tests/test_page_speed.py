"""The notebook page's exporter list, remembered (nbext_pkg/page_speed.py): the same
list as the stock handler's, computed again when a distribution is installed."""

import os

import nbformat
import pytest
from harness import NotebookServer

from nbext_pkg.page_speed import installed_key, remembered

FANCY = r"""
import os

from nbconvert.exporters import Exporter


class FancyExporter(Exporter):
    export_from_notebook = "Fancy"
    file_extension = ".fancy"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        with open(os.environ["NBEXT_FANCY_MADE"], "a") as f:  # one line per instance made
            f.write("x\n")
"""


def test_the_answer_is_kept_until_the_key_changes_and_handed_out_as_a_copy():
    calls, key = [], ["a"]

    def original():
        calls.append(1)
        return [("html", "HTML (.html)")]

    get = remembered(original, key=lambda: key[0])
    first = get()
    first.append("mine")
    assert get() == [("html", "HTML (.html)")] and len(calls) == 1
    key[0] = "b"
    assert get() == [("html", "HTML (.html)")] and len(calls) == 2
    assert get.__wrapped__ is original


def test_the_key_follows_a_folder_on_the_path(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    before = installed_key()
    (tmp_path / "new-1.0.dist-info").mkdir()
    os.utime(tmp_path, ns=(1, 10**18))
    assert installed_key() != before


@pytest.fixture(scope="module")
def site(tmp_path_factory, flavour):
    return tmp_path_factory.mktemp(f"site-{flavour}")


@pytest.fixture(scope="module")
def speedy(jupyter_env, notebook_root, flavour, site):
    (site / "fancy_exporter.py").write_text(FANCY)
    saved = dict(jupyter_env.env)
    jupyter_env.env["PYTHONPATH"] = str(site)
    # Outside the folder on the path: writing there would itself look like an install.
    jupyter_env.env["NBEXT_FANCY_MADE"] = str(site.parent / f"{site.name}-made.txt")
    try:
        srv = NotebookServer(jupyter_env, notebook_root, flavour=flavour).start()
    finally:
        jupyter_env.env.clear()
        jupyter_env.env.update(saved)
    yield srv
    srv.stop()


def test_the_page_lists_what_the_stock_handler_lists_and_sees_a_new_exporter(speedy, notebook_root, site):
    if speedy.flavour == "notebook":
        from notebook.notebook.handlers import get_frontend_exporters
    else:
        from nbclassic.notebook.handlers import get_frontend_exporters
    nbformat.write(nbformat.v4.new_notebook(), str(notebook_root / "speed.ipynb"))
    page = speedy.api("GET", "notebooks/speed.ipynb", expect=200).text
    stock = getattr(get_frontend_exporters, "__wrapped__", get_frontend_exporters)()
    assert stock and all(f'id="download_{e.name}"' in page and e.display in page for e in stock)
    assert "Fancy (.fancy)" not in page
    # A distribution that brings an exporter is installed while the server runs.
    info = site / "fancy_exporter-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fancy-exporter\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[nbconvert.exporters]\nfancy = fancy_exporter:FancyExporter\n")
    os.utime(site, ns=(1, os.stat(site).st_mtime_ns + 10**9))
    again = speedy.api("GET", "notebooks/speed.ipynb", expect=200).text
    assert "Fancy (.fancy)" in again
    made = site.parent / f"{site.name}-made.txt"
    once = made.read_text().count("x")
    assert once >= 1
    # ...and then it is not built again for every page: the list is remembered.
    for _ in range(3):
        assert "Fancy (.fancy)" in speedy.api("GET", "notebooks/speed.ipynb", expect=200).text
    assert made.read_text().count("x") == once
