"""`jupyter nbconvert --to nbext_pkg_bundle`: the bundle without a browser, with
the download's content and rules, one-line errors, and no file lost or left
half-written; and the exporter as the servers' nbconvert routes see it."""

import io
import json
import os
import platform
import shutil
import subprocess
import sys
import zipfile

import nbformat
import pytest
from harness import JupyterEnv, url_path

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)
MARKDOWN = "![plot](../images/plot%201.png) [data](../data/x.csv) [far](../../../../etc/passwd)"


@pytest.fixture
def jenv(tmp_path):
    return JupyterEnv(tmp_path / "env")


@pytest.fixture
def project(tmp_path):
    base = tmp_path / "proj #1 ü"
    for sub in ("notebooks", "images", "data"):
        (base / sub).mkdir(parents=True)
    (base / "images" / "plot 1.png").write_bytes(PNG)
    (base / "data" / "x.csv").write_text("a,b\n1,2\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(MARKDOWN), nbformat.v4.new_code_cell("import nbformat")]
    nbformat.write(nb, str(base / "notebooks" / "Résumé 1.ipynb"))
    return base


def convert(jenv, *args, cwd=None):
    return subprocess.run(
        [jenv.python, "-m", "nbconvert", "--to", "nbext_pkg_bundle", *map(str, args)],
        env=jenv.env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def members(path):
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read(next(n for n in zf.namelist() if n.endswith("/MANIFEST.json"))))
        return set(zf.namelist()), manifest, {n: zf.read(n) for n in zf.namelist()}


def snapshot(folder):
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_writes_the_zip_next_to_the_notebook_rooted_at_its_folder(jenv, project):
    notebook = project / "notebooks" / "Résumé 1.ipynb"
    done = convert(jenv, notebook)
    assert done.returncode == 0, done.stderr
    names, manifest, _ = members(project / "notebooks" / "Résumé 1.zip")
    # The notebook's folder is the root: what lies above it stays out, and says why.
    assert names == {
        "Résumé 1/Résumé 1.ipynb",
        "Résumé 1/Résumé 1.html",
        "Résumé 1/requirements.txt",
        "Résumé 1/runtime.txt",
        "Résumé 1/MANIFEST.json",
    }
    assert {s["reference"]: s["reason"] for s in manifest["skipped"]} == {
        "../images/plot%201.png": "outside-root",
        "../data/x.csv": "outside-root",
        "../../../../etc/passwd": "outside-root",
    }


def test_root_dir_on_the_command_line_takes_the_files_in(jenv, project):
    done = convert(
        jenv, f"--NbextPkgBundleExporter.root_dir={project}", project / "notebooks" / "Résumé 1.ipynb"
    )
    assert done.returncode == 0, done.stderr
    names, manifest, data = members(project / "notebooks" / "Résumé 1.zip")
    assert names == {
        "Résumé 1/notebooks/Résumé 1.ipynb",
        "Résumé 1/notebooks/Résumé 1.html",
        "Résumé 1/images/plot 1.png",
        "Résumé 1/data/x.csv",
        "Résumé 1/requirements.txt",
        "Résumé 1/runtime.txt",
        "Résumé 1/MANIFEST.json",
    }
    assert data["Résumé 1/images/plot 1.png"] == PNG
    assert manifest["skipped"] == [{"reference": "../../../../etc/passwd", "reason": "outside-root"}]
    assert manifest["notebook"] == "notebooks/Résumé 1.ipynb"
    html = data["Résumé 1/notebooks/Résumé 1.html"].decode()
    assert "data:image/png;base64," in html
    assert f"nbformat=={nbformat.__version__}" in data["Résumé 1/requirements.txt"].decode()
    # The notebook names no kernelspec: the server's own Python is the kernel's.
    assert data["Résumé 1/runtime.txt"].decode() == "python-{}.{}\n".format(*sys.version_info[:2])
    assert manifest["requirements_from"] == "server"
    assert manifest["python"]["version"] == platform.python_version()


def test_the_same_bundle_as_the_download(jenv, project, server):
    """The command line and the server's route, on one notebook under one root:
    the same members, byte for byte, apart from the manifest's timestamp."""
    root = server.root
    target = root / "exporter same"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(project, target)
    done = convert(jenv, f"--NbextPkgBundleExporter.root_dir={root}", target / "notebooks" / "Résumé 1.ipynb")
    assert done.returncode == 0, done.stderr
    _, cli_manifest, cli = members(target / "notebooks" / "Résumé 1.zip")
    response = server.api(
        "GET", "nbext_pkg/bundle/" + url_path("exporter same/notebooks/Résumé 1.ipynb"), expect=200
    )
    with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
        served = {n: zf.read(n) for n in zf.namelist()}
    assert set(cli) == set(served)
    for name in cli:
        if not name.endswith("MANIFEST.json"):
            assert cli[name] == served[name], name
    served_manifest = json.loads(next(v for k, v in served.items() if k.endswith("MANIFEST.json")))
    for key in ("files", "skipped", "notebook", "kernelspec"):
        assert cli_manifest.get(key) == served_manifest.get(key), key


def test_bad_input_gets_one_line_and_status_1_and_leaves_no_file(jenv, project):
    notebooks = project / "notebooks"
    (notebooks / "broken.ipynb").write_text("{ not json")
    (notebooks / "mine.zip").write_bytes(b"my own archive, not a bundle")
    nbformat.write(nbformat.v4.new_notebook(), str(notebooks / "mine.ipynb"))
    before = snapshot(project)
    cases = [
        ([notebooks / "broken.ipynb"], "broken.ipynb is not a notebook nbformat can read: "),
        (
            [notebooks / "mine.ipynb"],
            "mine.zip already exists and is not a bundle nbext_pkg made; "
            "move it away or name the bundle with --output.",
        ),
        (
            ["--NbextPkgBundleExporter.root_dir=/nonexistent", notebooks / "Résumé 1.ipynb"],
            "The root folder /nonexistent is not a folder.",
        ),
        (
            [f"--NbextPkgBundleExporter.root_dir={project / 'data'}", notebooks / "Résumé 1.ipynb"],
            "is not inside the root folder",
        ),
        (
            [
                f"--NbextPkgBundleExporter.root_dir={project}",
                "--NbextPkg.max_bundle_files=1",
                notebooks / "Résumé 1.ipynb",
            ],
            "This bundle would hold 2 files, more than the limit of 1 (c.NbextPkg.max_bundle_files).",
        ),
    ]
    for args, words in cases:
        done = convert(jenv, *args)
        assert done.returncode == 1, (args, done.stderr)
        ours = [line for line in done.stderr.splitlines() if not line.startswith("[NbConvertApp]")]
        assert len(ours) == 1 and ours[0].startswith("nbext_pkg_bundle: ") and words in ours[0], done.stderr
        assert snapshot(project) == before, f"{args} changed the folder"


def test_a_bundle_it_made_before_is_replaced(jenv, project):
    notebook = project / "notebooks" / "Résumé 1.ipynb"
    assert convert(jenv, notebook).returncode == 0
    first = (project / "notebooks" / "Résumé 1.zip").read_bytes()
    nb = nbformat.read(str(notebook), as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("one more"))
    nbformat.write(nb, str(notebook))
    assert convert(jenv, notebook).returncode == 0
    _, _, data = members(project / "notebooks" / "Résumé 1.zip")
    assert data != first and b"one more" in data["Résumé 1/Résumé 1.ipynb"]


def test_listed_for_nbconvert_but_not_as_a_second_download_as_entry():
    from nbconvert.exporters.base import get_export_names
    from notebook.notebook.handlers import get_frontend_exporters

    assert "nbext_pkg_bundle" in get_export_names()
    assert "nbext_pkg_bundle" not in {e.name for e in get_frontend_exporters()}


def test_the_servers_nbconvert_route_gives_the_bundle(server, project):
    """What Notebook 7's and JupyterLab's export menus call: listed by
    /api/nbconvert, served by /nbconvert/nbext_pkg_bundle/<path>."""

    listed = server.api("GET", "api/nbconvert", expect=200).json()
    assert listed["nbext_pkg_bundle"]["output_mimetype"] == "application/zip"
    target = server.root / "via nbconvert"
    if not target.exists():
        shutil.copytree(project, target)
    path = "via nbconvert/notebooks/Résumé 1.ipynb"
    if server.flavour == "notebook":
        # notebook 6 runs nbconvert on its event loop: the exporter says where to go instead.
        response = server.api("GET", f"nbconvert/nbext_pkg_bundle/{url_path(path)}?download=true")
        assert response.status_code == 500 and b"nbext_pkg/bundle/" in response.content
        return
    # jupyter_server runs it in a thread.
    response = server.api("GET", f"nbconvert/nbext_pkg_bundle/{url_path(path)}?download=true", expect=200)
    from urllib.parse import quote

    assert response.headers["Content-Disposition"].endswith(f"''{quote('Résumé 1.zip')}")
    with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
        names = set(zf.namelist())
    # The route passes the notebook's folder: the root is that folder, as on the command line.
    assert {"Résumé 1/Résumé 1.ipynb", "Résumé 1/MANIFEST.json", "Résumé 1/Résumé 1.html"} <= names
    assert not any("plot 1.png" in n for n in names)


def test_stdout_gets_the_archives_bytes(jenv, project):
    done = subprocess.run(
        [
            jenv.python,
            "-m",
            "nbconvert",
            "--to",
            "nbext_pkg_bundle",
            "--stdout",
            str(project / "notebooks" / "Résumé 1.ipynb"),
        ],
        env=jenv.env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(io.BytesIO(done.stdout)) as zf:
        assert zf.testzip() is None
        assert "Résumé 1/Résumé 1.ipynb" in zf.namelist()
    assert not (project / "notebooks" / "Résumé 1.zip").exists()


def test_a_link_in_the_targets_place_is_never_written_through(jenv, project, tmp_path):
    outside = tmp_path / "elsewhere.zip"
    outside.write_bytes(b"someone else's file")
    link = project / "notebooks" / "Résumé 1.zip"
    # A link to a bundle of ours is refused too: where the link leads is not ours to write.
    assert convert(jenv, project / "notebooks" / "Résumé 1.ipynb").returncode == 0
    (project / "notebooks" / "Résumé 1.zip").rename(tmp_path / "ours.zip")
    for target in (outside, tmp_path / "ours.zip"):
        link.symlink_to(target)
        before = target.read_bytes()
        done = convert(jenv, project / "notebooks" / "Résumé 1.ipynb")
        assert done.returncode == 1
        assert "is a symbolic link: nbext_pkg writes no bundle through one" in done.stderr
        assert target.read_bytes() == before and link.is_symlink()
        link.unlink()


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs mounted in a temporary folder (the tests run as root, as CI does)."""
    mount = tmp_path / "small disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def one_line(done):
    ours = [line for line in done.stderr.splitlines() if not line.startswith("[NbConvertApp]")]
    assert done.returncode == 1 and len(ours) == 1 and ours[0].startswith("nbext_pkg_bundle: "), done.stderr
    return ours[0]


def test_a_full_disk_leaves_the_previous_bundle_as_it_was(jenv, small_disk):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("[data](data.bin)")]
    nbformat.write(nb, str(small_disk / "nb.ipynb"))
    (small_disk / "data.bin").write_bytes(b"x" * 1000)
    assert convert(jenv, small_disk / "nb.ipynb").returncode == 0
    good = (small_disk / "nb.zip").read_bytes()
    # Now the data no longer fits next to the previous bundle: the new one cannot be written.
    (small_disk / "data.bin").write_bytes(os.urandom(1200 * 1024))
    line = one_line(convert(jenv, small_disk / "nb.ipynb"))
    assert "could not be written" in line and "No space left on device" in line
    assert (small_disk / "nb.zip").read_bytes() == good
    assert sorted(p.name for p in small_disk.iterdir()) == ["data.bin", "nb.ipynb", "nb.zip"]


def test_a_read_only_folder_gets_one_line(jenv, small_disk):
    nbformat.write(nbformat.v4.new_notebook(), str(small_disk / "nb.ipynb"))
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    line = one_line(convert(jenv, small_disk / "nb.ipynb"))
    assert "nb.zip could not be written: Read-only file system." in line


def test_the_servers_nbconvert_routes_stay_inside_the_root(server):
    """The routes pass the notebook's name (POST) or its folder (GET) to the exporter:
    neither may make it bundle a file outside the server's root."""
    root = server.root
    evil = root.parent / f"{root.name}_nbconvert_evil"
    evil.mkdir(exist_ok=True)
    (evil / "secret.txt").write_text("SECRET-OUTSIDE")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("[s](secret.txt)")]
    nbformat.write(nb, str(evil / "nb.ipynb"))
    posted = nbformat.v4.new_notebook()
    posted.cells = [nbformat.v4.new_markdown_cell("posted [s](secret.txt)")]
    response = server.api(
        "POST",
        "nbconvert/nbext_pkg_bundle",
        json={"name": f"../{evil.name}/nb.ipynb", "content": json.loads(nbformat.writes(posted))},
    )
    assert b"SECRET-OUTSIDE" not in response.content
    if server.flavour == "notebook":  # not on notebook 6's event loop (see above)
        assert response.status_code == 500 and b"nbext_pkg/bundle/" in response.content
        return
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
        names = set(zf.namelist())
        assert b"SECRET-OUTSIDE" not in b"".join(zf.read(n) for n in names)
        assert b"posted" in zf.read("nb/nb.ipynb")
        manifest = json.loads(zf.read("nb/MANIFEST.json"))
    assert names == {"nb/nb.ipynb", "nb/nb.html", "nb/requirements.txt", "nb/runtime.txt", "nb/MANIFEST.json"}
    assert manifest["skipped"] == [{"reference": "secret.txt", "reason": "not-looked-for"}]
    assert "files_note" not in manifest
    from urllib.parse import quote

    response = server.api("GET", "nbconvert/nbext_pkg_bundle/" + quote(f"../{evil.name}/nb.ipynb", safe=""))
    assert response.status_code != 200 and b"SECRET-OUTSIDE" not in response.content


def test_bundles_get_the_mode_the_umask_allows(jenv, project):
    done = subprocess.run(
        [
            "sh",
            "-c",
            'umask 022 && exec "$0" -m nbconvert --to nbext_pkg_bundle "$1"',
            jenv.python,
            str(project / "notebooks" / "Résumé 1.ipynb"),
        ],
        env=jenv.env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (project / "notebooks" / "Résumé 1.zip").stat().st_mode & 0o777 == 0o644
