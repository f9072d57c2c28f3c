"""The install hooks, the real `jupyter ...` commands, and `pip install`."""

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from harness import REPO, JupyterEnv, NotebookServer, overlay_venv

import nbext_pkg
from nbext_pkg import names

STATIC = REPO / "nbext_pkg" / "static"
PAGE_MODULES = names.PAGE_MODULES  # section -> require id
TREE, NOTEBOOK = PAGE_MODULES["tree"], PAGE_MODULES["notebook"]
BUNDLER = {"label": names.BUNDLER_LABEL, "module_name": names.BUNDLER_MODULE, "group": names.BUNDLER_GROUP}


def test_nbextension_paths_are_exactly_the_two_page_modules():
    assert nbext_pkg._jupyter_nbextension_paths() == [
        {"section": "tree", "src": "static", "dest": "nbext_pkg", "require": TREE},
        {"section": "notebook", "src": "static", "dest": "nbext_pkg", "require": NOTEBOOK},
    ]


def test_server_extension_paths_name_the_package():
    assert nbext_pkg._jupyter_server_extension_paths() == [{"module": "nbext_pkg"}]
    assert callable(nbext_pkg.load_jupyter_server_extension)


def test_server_extension_points_name_the_package_for_jupyter_server():
    assert nbext_pkg._jupyter_server_extension_points() == [{"module": "nbext_pkg"}]
    assert callable(nbext_pkg._load_jupyter_server_extension)


def test_bundlerextension_paths_declare_the_bundle():
    assert nbext_pkg._jupyter_bundlerextension_paths() == [dict(name=names.BUNDLER_ID, **BUNDLER)]
    # The registered label names no format: the page module adds the one the settings choose.
    assert not re.search(r"zip|tar", BUNDLER["label"]), BUNDLER["label"]


def test_bundlerextension_enable_and_disable(jenv):
    jenv.jupyter("bundlerextension", "enable", "--py", "nbext_pkg", "--user")
    notebook = read_json(jenv.config_dir / "nbconfig" / "notebook.json")
    assert notebook == {"bundlerextensions": {names.BUNDLER_ID: BUNDLER}}
    jenv.jupyter("bundlerextension", "disable", "--py", "nbext_pkg", "--user")
    assert read_json(jenv.config_dir / "nbconfig" / "notebook.json") == {}


def test_importing_the_package_imports_no_server_code():
    code = (
        "import sys, nbext_pkg; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('notebook', 'tornado')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_required_module_exists():
    for require in PAGE_MODULES.values():
        assert (STATIC / (require.split("/", 1)[1] + ".js")).is_file()


@pytest.fixture
def jenv(tmp_path):
    return JupyterEnv(tmp_path / "env")


def listed(jenv):
    """`jupyter nbextension list`, as {section: [lines]}, colours and spacing removed."""
    text = jenv.jupyter("nbextension", "list", merge_output=True).stdout
    sections, current = {}, None
    for line in re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines():
        words = " ".join(line.split())
        if words.endswith(" section"):
            current = sections.setdefault(words.split()[0], [])
        elif current is not None and words:
            current.append(words)
    return sections


def read_json(path):
    return json.loads(Path(path).read_text())


@pytest.mark.parametrize("symlink", [False, True], ids=["copy", "symlink"])
def test_nbextension_install_user(jenv, symlink):
    args = ["nbextension", "install", "--py", "nbext_pkg", "--user"] + (["--symlink"] if symlink else [])
    jenv.jupyter(*args)
    installed = jenv.data_dir / "nbextensions" / "nbext_pkg"
    if symlink:
        assert installed.is_symlink()
        assert installed.resolve() == STATIC.resolve()
    else:
        assert not installed.is_symlink()
        for source in STATIC.iterdir():
            assert (installed / source.name).read_bytes() == source.read_bytes()


def test_enable_then_disable_at_user_level(jenv):
    jenv.jupyter("nbextension", "install", "--py", "nbext_pkg", "--user")
    jenv.jupyter("nbextension", "enable", "--py", "nbext_pkg", "--user")
    jenv.jupyter("serverextension", "enable", "--py", "nbext_pkg", "--user")
    nbconfig = jenv.config_dir / "nbconfig"
    for section, require in PAGE_MODULES.items():
        assert read_json(nbconfig / f"{section}.json") == {"load_extensions": {require: True}}
    server_config = read_json(jenv.config_dir / "jupyter_notebook_config.json")
    assert server_config["NotebookApp"]["nbserver_extensions"] == {"nbext_pkg": True}

    assert listed(jenv) == {
        "notebook": [f"{NOTEBOOK} enabled", "- Validating: OK"],
        "tree": [f"{TREE} enabled", "- Validating: OK"],
    }

    jenv.jupyter("nbextension", "disable", "--py", "nbext_pkg", "--user")
    for section, require in PAGE_MODULES.items():
        assert read_json(nbconfig / f"{section}.json") == {"load_extensions": {require: False}}


def test_sys_prefix_install_and_enable(tmp_path):
    python = overlay_venv(tmp_path / "venv")
    jenv = JupyterEnv(tmp_path / "env", python=str(python))
    jenv.env["JUPYTER_PREFER_ENV_PATH"] = "1"
    jenv.jupyter("nbextension", "install", "--py", "nbext_pkg", "--sys-prefix")
    jenv.jupyter("nbextension", "enable", "--py", "nbext_pkg", "--sys-prefix")
    prefix = tmp_path / "venv"
    installed = prefix / "share/jupyter/nbextensions/nbext_pkg/tree.js"
    assert installed.read_bytes() == (STATIC / "tree.js").read_bytes()
    tree_config = read_json(prefix / "etc/jupyter/nbconfig/tree.json")
    assert tree_config == {"load_extensions": {TREE: True}}
    # Nothing leaked into the user's folders.
    assert not (jenv.data_dir / "nbextensions").exists()


def build_wheel(tmp_path):
    """A wheel built from a copy of the checkout: building in place would leave
    build/ and an egg-info there, whose stale entry points shadow the installed ones
    for anything run from the checkout."""
    import shutil

    source = tmp_path / "source"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", "build", "*.egg-info", "test-artifacts", "__pycache__", ".*_cache", "demo"
        ),
    )
    out = tmp_path / "wheel"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return next(out.glob("nbext_pkg-*.whl"))


def test_wheel_carries_static_files_and_enabling_config(tmp_path):
    wheel = build_wheel(tmp_path)
    data = f"nbext_pkg-{nbext_pkg.__version__}.data/data/"
    with zipfile.ZipFile(wheel) as zf:
        members = set(zf.namelist())
        for source in STATIC.iterdir():
            assert data + f"share/jupyter/nbextensions/nbext_pkg/{source.name}" in members
        assert json.loads(zf.read(data + "etc/jupyter/nbconfig/tree.d/nbext_pkg.json")) == {
            "load_extensions": {TREE: True}
        }
        assert json.loads(zf.read(data + "etc/jupyter/nbconfig/notebook.d/nbext_pkg.json")) == {
            "load_extensions": {NOTEBOOK: True},
            "bundlerextensions": {names.BUNDLER_ID: BUNDLER},
        }
        assert json.loads(zf.read(data + "etc/jupyter/jupyter_notebook_config.d/nbext_pkg.json")) == {
            "NotebookApp": {"nbserver_extensions": {"nbext_pkg": True}}
        }
        assert json.loads(zf.read(data + "etc/jupyter/jupyter_server_config.d/nbext_pkg.json")) == {
            "ServerApp": {"jpserver_extensions": {"nbext_pkg": True}}
        }


def test_pip_install_alone_turns_everything_on(tmp_path):
    """pip install into a fresh environment, no other command: a server there
    loads both page modules and the server extension."""
    wheel = build_wheel(tmp_path)
    python = overlay_venv(tmp_path / "venv")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--ignore-installed", str(wheel)],
        check=True,
        capture_output=True,
        text=True,
    )
    jenv = JupyterEnv(tmp_path / "env", python=str(python))
    jenv.env["JUPYTER_PREFER_ENV_PATH"] = "1"
    assert listed(jenv) == {
        "notebook": [f"{NOTEBOOK} enabled", "- Validating: OK"],
        "tree": [f"{TREE} enabled", "- Validating: OK"],
    }
    (tmp_path / "root").mkdir()
    for flavour in NotebookServer.FLAVOURS:
        assert_everything_on(NotebookServer(jenv, tmp_path / "root", flavour=flavour))


def assert_everything_on(server):
    """The server loads our extension, serves our files and both page modules'
    config, and the bundler's menu entry is configured."""
    server.start()
    try:
        status = server.api("GET", "nbext_pkg/api/status", expect=200).json()
        assert status == {"name": "nbext_pkg", "version": nbext_pkg.__version__}
        for section, require in PAGE_MODULES.items():
            config = server.api("GET", f"api/config/{section}", expect=200).json()
            assert config["load_extensions"][require] is True
        notebook_config = server.api("GET", "api/config/notebook", expect=200).json()
        assert notebook_config["bundlerextensions"] == {names.BUNDLER_ID: BUNDLER}
        served = server.api("GET", "nbextensions/nbext_pkg/tree.js", expect=200)
        assert served.content == (STATIC / "tree.js").read_bytes()
        flavour = "notebook" if server.flavour == "notebook" else "jupyter_server"
        assert f"nbext_pkg {nbext_pkg.__version__} loaded ({flavour})" in server.log_text()
    finally:
        server.stop()


@pytest.mark.parametrize("symlink", [False, True], ids=["copy", "symlink"])
def test_nbclassic_commands_set_everything_up(jenv, tmp_path, symlink):
    """`jupyter nbclassic-extension install|enable --py` and
    `jupyter nbclassic-bundlerextension enable --py`, then `jupyter nbclassic`."""
    jenv.install_nbext_pkg(symlink=symlink, flavour="nbclassic")
    installed = jenv.data_dir / "nbextensions" / "nbext_pkg"
    assert installed.is_symlink() == symlink
    assert read_json(jenv.config_dir / "nbconfig" / "notebook.json")["bundlerextensions"] == {
        names.BUNDLER_ID: BUNDLER
    }
    (tmp_path / "root").mkdir()
    assert_everything_on(NotebookServer(jenv, tmp_path / "root", flavour="nbclassic"))
    jenv.jupyter("nbclassic-bundlerextension", "disable", "--py", "nbext_pkg", "--user")
    assert "bundlerextensions" not in read_json(jenv.config_dir / "nbconfig" / "notebook.json")
