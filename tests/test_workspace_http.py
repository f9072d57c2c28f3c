"""The selection, save and open routes against real servers (notebook 6 and nbclassic, under
a base URL that needs escaping): a selection bundle downloaded or saved into its folder, a
notebook's bundle saved beside it, and archives opened on the server, hostile ones refused
with nothing left behind. xsrf as a browser meets it: a cookie session must send the token."""

import io
import json
import os
import tarfile
import zipfile
from urllib.parse import quote

import nbformat
import pytest
import requests
from harness import url_path

FOLDER = "wörk space #1"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)


@pytest.fixture(scope="module")
def work(server):
    base = server.root / FOLDER
    (base / "data" / "sub").mkdir(parents=True, exist_ok=True)
    (base / "data" / "a.csv").write_text("a\n1\n")
    (base / "data" / "sub" / "b.csv").write_text("b\n2\n")
    (base / "pic.png").write_bytes(PNG)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("![p](pic.png)"), nbformat.v4.new_code_cell("import nbformat")]
    nbformat.write(nb, str(base / "an é.ipynb"))
    many = base / "many"
    many.mkdir(exist_ok=True)
    for i in range(300):
        (many / f"file {i:03d} with a long name to fill the request ünï.txt").write_text(str(i))
    return base


def post(server, route, data, expect=None):
    return server.api("POST", f"nbext_pkg/{route}", data=data, expect=expect, timeout=120)


def listing(folder):
    return sorted(os.listdir(folder))


def zip_members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        return {n: zf.read(n) for n in zf.namelist()}


def test_a_selection_downloads_as_one_archive(server, work):
    response = post(
        server,
        "selection",
        {"folder": FOLDER, "names": json.dumps(["an é.ipynb", "data"]), "format": "zip"},
        expect=200,
    )
    assert response.headers["Content-Type"] == "application/zip"
    assert (
        "filename*=UTF-8''" + quote("wörk space #1-selection.zip", safe="")
        in response.headers["Content-Disposition"]
    )
    found = zip_members(response.content)
    top = "wörk space #1-selection"
    assert {
        f"{top}/an é.ipynb",
        f"{top}/an é.html",
        f"{top}/pic.png",
        f"{top}/data/a.csv",
        f"{top}/data/sub/b.csv",
        f"{top}/requirements.txt",
        f"{top}/runtime.txt",
        f"{top}/MANIFEST.json",
    } == set(found)
    doc = json.loads(found[f"{top}/MANIFEST.json"])
    assert doc["selection"]["folder"] == FOLDER and doc["requirements_from"] == "kernel"


def test_hundreds_of_names_go_in_the_body_not_the_url(server, work):
    names = sorted(os.listdir(work / "many"))
    assert len(names) == 300 and len(json.dumps(names)) > 16_000
    response = post(
        server,
        "selection",
        {"folder": f"{FOLDER}/many", "names": json.dumps(names), "format": "tar"},
        expect=200,
    )
    with tarfile.open(fileobj=io.BytesIO(response.content)) as tf:
        files = [m.name for m in tf.getmembers() if m.isfile()]
    assert len(files) == 301  # and the manifest


@pytest.mark.parametrize(
    "data, status, words",
    [
        ({"folder": FOLDER, "names": json.dumps(["../" + FOLDER])}, 400, "not a name in this folder"),
        ({"folder": FOLDER, "names": json.dumps(["a/b"])}, 400, "not a name in this folder"),
        ({"folder": f"{FOLDER}/../..", "names": json.dumps(["x"])}, 404, "outside the server's root"),
        ({"folder": FOLDER, "names": "not json"}, 400, "names="),
        ({"folder": FOLDER, "names": json.dumps([])}, 400, "Tick at least one"),
        ({"folder": FOLDER, "names": json.dumps(["data"]), "format": "rar"}, 400, "format=zip"),
    ],
)
def test_a_selection_that_names_nothing_of_the_folder_is_refused_with_a_sentence(
    server, work, data, status, words
):
    response = post(server, "selection", data)
    assert response.status_code == status, response.text
    assert words in response.json()["message"]


def browser_like(server):
    """A session as the browser has it: the login cookie and the _xsrf cookie, no token."""
    session = requests.Session()
    page = session.get(server.url + f"tree?token={server.token}", timeout=30)
    assert page.status_code == 200
    assert "_xsrf" in session.cookies, session.cookies
    return session


def test_the_servers_xsrf_rule_holds_for_a_selection(server, work):
    session = browser_like(server)
    data = {"folder": FOLDER, "names": json.dumps(["pic.png"])}
    refused = session.post(server.url + "nbext_pkg/selection", data=data, timeout=30)
    assert refused.status_code == 403
    data["_xsrf"] = session.cookies["_xsrf"]
    taken = session.post(server.url + "nbext_pkg/selection", data=data, timeout=30)
    assert taken.status_code == 200, taken.text
    assert "wörk space #1-selection/pic.png" in zip_members(taken.content)


def test_a_selection_saved_here_takes_a_free_name_and_leaves_no_temporary_file(server, work):
    before = listing(work)
    first = post(
        server, "selection", {"folder": FOLDER, "names": json.dumps(["data"]), "save": "1"}, expect=201
    ).json()
    second = post(
        server, "selection", {"folder": FOLDER, "names": json.dumps(["data"]), "save": "1"}, expect=201
    ).json()
    assert first["path"] == f"{FOLDER}/data.zip" and second["path"] == f"{FOLDER}/data-1.zip"
    assert listing(work) == sorted(before + ["data.zip", "data-1.zip"])
    saved = (work / "data.zip").read_bytes()
    assert first["size"] == len(saved) and "data/sub/b.csv" in zip_members(saved)
    # The contents API shows it at once.
    model = server.api(
        "GET", f"api/contents/{url_path(FOLDER)}/data.zip", params={"content": "0"}, expect=200
    ).json()
    assert model["size"] == len(saved)
    for name in ("data.zip", "data-1.zip"):
        (work / name).unlink()


def test_a_notebooks_bundle_is_saved_beside_it(server, work):
    response = server.api(
        "POST",
        f"nbext_pkg/save/{url_path(FOLDER)}/{url_path('an é.ipynb')}",
        data={"format": "tar.gz"},
        expect=201,
    )
    answer = response.json()
    assert answer["path"] == f"{FOLDER}/an é.tar.gz"
    with tarfile.open(work / "an é.tar.gz") as tf:
        assert "an é/pic.png" in tf.getnames()
    (work / "an é.tar.gz").unlink()
    assert not [n for n in listing(work) if n.startswith(".nbext_pkg")]


def test_saving_the_bundle_of_something_that_is_no_notebook_is_refused(server, work):
    response = server.api("POST", f"nbext_pkg/save/{url_path(FOLDER)}/pic.png")
    assert response.status_code == 400 and "not a notebook" in response.json()["message"]
    response = server.api("POST", "nbext_pkg/save/..%2F..%2Fetc/x.ipynb")
    assert response.status_code in (400, 404)  # tornado's own 400 for %2F, else ours
    if response.status_code == 404:
        assert "outside the server's root" in response.json()["message"]


def put_file(server, path, data):
    import base64

    server.api(
        "PUT",
        f"api/contents/{url_path(path)}",
        expect=201,
        json={"type": "file", "format": "base64", "content": base64.b64encode(data).decode()},
    )


def test_a_bundle_opens_beside_itself_and_its_notebook_is_named(server, work):
    bundle = post(
        server, "selection", {"folder": FOLDER, "names": json.dumps(["an é.ipynb"])}, expect=200
    ).content
    put_file(server, f"{FOLDER}/got.zip", bundle)
    first = server.api("POST", f"nbext_pkg/open/{url_path(FOLDER)}/got.zip", expect=201).json()
    second = server.api("POST", f"nbext_pkg/open/{url_path(FOLDER)}/got.zip", expect=201).json()
    assert first["path"] == f"{FOLDER}/got" and second["path"] == f"{FOLDER}/got-1"
    assert first["notebooks"] == [f"{FOLDER}/got/an é.ipynb"]
    assert first["ours"] is True and first["mismatches"] == []
    assert (work / "got" / "pic.png").read_bytes() == PNG
    # The notebook opens from there, through the contents API.
    server.api("GET", f"api/contents/{url_path(FOLDER)}/got/{url_path('an é.ipynb')}", expect=200)


def test_a_tampered_bundle_opens_and_says_what_does_not_match(server, work, tmp_path):
    bundle = post(server, "selection", {"folder": FOLDER, "names": json.dumps(["data"])}, expect=200).content
    found = zip_members(bundle)
    tampered = io.BytesIO()
    with zipfile.ZipFile(tampered, "w") as zf:
        for name, data in found.items():
            zf.writestr(name, b"z\n9\n" if name.endswith("a.csv") else data)
    put_file(server, f"{FOLDER}/tampered.zip", tampered.getvalue())
    answer = server.api("POST", f"nbext_pkg/open/{url_path(FOLDER)}/tampered.zip", expect=201).json()
    assert any("a.csv" in line for line in answer["mismatches"]), answer


def hostile_zip():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("fine.txt", "fine")
        zf.writestr("../../escaped.txt", "escaped")
    return out.getvalue()


def hostile_tar():
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tf:
        info = tarfile.TarInfo("ok.txt")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"ok"))
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    return out.getvalue()


@pytest.mark.parametrize(
    "name, data, words",
    [
        ("climb.zip", hostile_zip(), "../../escaped.txt"),
        ("link.tar.gz", hostile_tar(), "link"),
        ("not-an-archive.zip", b"plain text, not a zip", "is not a zip, tar or tar.gz"),
    ],
)
def test_a_hostile_archive_is_refused_and_leaves_nothing(server, work, name, data, words):
    put_file(server, f"{FOLDER}/{name}", data)
    before = listing(work)
    response = server.api("POST", f"nbext_pkg/open/{url_path(FOLDER)}/{url_path(name)}")
    assert response.status_code == 400, response.text
    assert words in response.json()["message"] and "nothing" in response.json()["message"]
    assert listing(work) == before
    assert not (server.root.parent / "escaped.txt").exists()
    (work / name).unlink()


def test_an_archive_outside_the_root_or_hidden_is_not_opened(server, work, tmp_path):
    (server.root.parent / "outside.zip").write_bytes(hostile_zip())
    response = server.api("POST", "nbext_pkg/open/..%2Foutside.zip")
    assert response.status_code in (400, 404)
    (work / ".hidden.zip").write_bytes(hostile_zip())
    response = server.api("POST", f"nbext_pkg/open/{url_path(FOLDER)}/.hidden.zip")
    assert response.status_code == 404 and "hidden" in response.json()["message"]
    response = server.api("POST", f"nbext_pkg/open/{url_path(FOLDER)}/data")
    assert response.status_code == 400 and "not an archive" in response.json()["message"]
    (work / ".hidden.zip").unlink()


def test_an_archive_reached_through_a_link_opens_beside_its_target_and_says_so(server, work):
    (work / "real").mkdir(exist_ok=True)
    (work / "real" / "k.zip").write_bytes(zip_bytes_of({"k/x.txt": b"x"}))
    (work / "view").mkdir(exist_ok=True)
    os.symlink(work / "real" / "k.zip", work / "view" / "k.zip")
    (work / "view" / "k").mkdir()  # an unrelated folder where the link is
    answer = server.api("POST", f"nbext_pkg/open/{url_path(FOLDER)}/view/k.zip", expect=201).json()
    assert answer["path"] == f"{FOLDER}/real/k"
    assert (work / "real" / "k" / "x.txt").read_bytes() == b"x"
    assert list((work / "view" / "k").iterdir()) == []


def zip_bytes_of(members):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


READ_ONLY = """
from jupyter_server.auth.authorizer import Authorizer

class ReadOnly(Authorizer):
    def is_authorized(self, handler, user, action, resource):
        return action == "read"
"""


def test_saving_a_selection_needs_the_right_to_write(jupyter_env, notebook_root, tmp_path, monkeypatch):
    """On jupyter_server, whose authorizer (JupyterHub's scopes) tells reading from writing."""
    from harness import NotebookServer

    (tmp_path / "read_only_auth.py").write_text(READ_ONLY)
    monkeypatch.setitem(jupyter_env.env, "PYTHONPATH", str(tmp_path))
    (notebook_root / "ro").mkdir(exist_ok=True)
    (notebook_root / "ro" / "a.txt").write_text("a")
    srv = NotebookServer(
        jupyter_env,
        notebook_root,
        flavour="nbclassic",
        extra_args=["--ServerApp.authorizer_class=read_only_auth.ReadOnly"],
    ).start()
    try:
        fields = {"folder": "ro", "names": json.dumps(["a.txt"])}
        assert srv.api("POST", "nbext_pkg/selection", data=fields).status_code == 200
        refused = srv.api("POST", "nbext_pkg/selection", data=dict(fields, save="1"))
        assert refused.status_code == 403 and "not write" in refused.json()["message"]
        assert srv.api("POST", "nbext_pkg/save/ro/x.ipynb").status_code == 403
        assert srv.api("POST", "nbext_pkg/open/ro/a.txt").status_code == 403
        assert sorted(os.listdir(notebook_root / "ro")) == ["a.txt"]
    finally:
        srv.stop()
