"""bundlers/__init__.py: the bundler API's entry point, which notebook 6's own /bundle/
handler calls where nbext_pkg's server extension is not loaded."""

import io
import json
import zipfile

import nbformat
from harness import JupyterEnv, NotebookServer, url_path


def test_notebook_6s_own_route_makes_the_bundle_without_our_server_extension(tmp_path):
    jenv = JupyterEnv(tmp_path / "env")
    jenv.jupyter("serverextension", "disable", "--py", "nbext_pkg", "--user")
    jenv.jupyter("bundlerextension", "enable", "--py", "nbext_pkg", "--user")
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "data.csv").write_text("a\n1\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("[the data](data.csv)")])
    nbformat.write(nb, str(root / "sub" / "nb é.ipynb"))
    server = NotebookServer(jenv, root).start()
    try:
        # Our routes are not there: the bundle comes through notebook 6's BundlerHandler.
        assert server.api("GET", "nbext_pkg/api/status").status_code == 404
        response = server.api("GET", f"bundle/{url_path('sub/nb é.ipynb')}?bundler=nbext_pkg_bundle")
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
            names = sorted(zf.namelist())
            manifest = json.loads(zf.read("nb é/MANIFEST.json"))
            assert zf.read("nb é/data.csv") == b"a\n1\n"
        assert names == [
            "nb é/MANIFEST.json",
            "nb é/data.csv",
            "nb é/nb é.html",
            "nb é/nb é.ipynb",
            "nb é/requirements.txt",
            "nb é/runtime.txt",
        ]
        assert manifest["notebook"] == "nb é.ipynb" and manifest["skipped"] == []
    finally:
        server.stop()
