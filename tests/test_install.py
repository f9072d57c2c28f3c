"""`jupyter nbext_pkg install | uninstall` (nbext_pkg/install.py): the parts it sets up are
the install hooks', written through the notebook's config manager, and undone exactly."""

import json

import pytest
from cli import run, snapshot
from harness import JupyterEnv, NotebookServer

from nbext_pkg import install, names

TREE, NOTEBOOK = names.PAGE_MODULES["tree"], names.PAGE_MODULES["notebook"]


@pytest.fixture
def jenv(tmp_path):
    return JupyterEnv(tmp_path / "env")


def test_the_parts_are_what_the_install_hooks_declare():
    assert [(p.name, p.folder, p.file, p.keys, p.value, p.needs) for p in install.PARTS] == [
        (
            "tree page module",
            "nbconfig",
            "tree",
            ("load_extensions", TREE),
            True,
            "notebook",
        ),
        (
            "notebook page module",
            "nbconfig",
            "notebook",
            ("load_extensions", NOTEBOOK),
            True,
            "notebook",
        ),
        (
            f"bundler (Download as > {names.BUNDLER_LABEL})",
            "nbconfig",
            "notebook",
            ("bundlerextensions", names.BUNDLER_ID),
            {"label": names.BUNDLER_LABEL, "module_name": names.BUNDLER_MODULE, "group": names.BUNDLER_GROUP},
            "notebook",
        ),
        (
            "server extension for notebook 6",
            "",
            "jupyter_notebook_config",
            ("NotebookApp", "nbserver_extensions", names.PACKAGE),
            True,
            "notebook",
        ),
        (
            "server extension for jupyter_server (nbclassic, JupyterHub)",
            "",
            "jupyter_server_config",
            ("ServerApp", "jpserver_extensions", names.PACKAGE),
            True,
            "jupyter_server",
        ),
    ]
    assert install.PARTS[0].enabled() == {"load_extensions": {TREE: True}}
    assert (install.STATIC.name, install.NBEXTENSION) == ("static", names.NBEXTENSION)


def test_install_then_uninstall_leaves_the_configuration_as_found(jenv):
    nbconfig = jenv.config_dir / "nbconfig"
    nbconfig.mkdir(parents=True)
    # Somebody else's settings in the files we write to must survive both ways.
    (nbconfig / "notebook.json").write_text(json.dumps({"load_extensions": {"other/main": True}}))
    (jenv.config_dir / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"other": True}}})
    )
    before = snapshot(jenv.config_dir, jenv.data_dir)

    done = run(jenv, "nbext_pkg", "install", "--user")
    assert done.returncode == 0, done.stderr
    assert "restart the notebook server" in done.stdout
    assert (jenv.data_dir / "nbextensions" / "nbext_pkg" / "tree.js").is_file()
    notebook = json.loads((nbconfig / "notebook.json").read_text())
    assert notebook["load_extensions"] == {"other/main": True, NOTEBOOK: True}
    assert notebook["bundlerextensions"][names.BUNDLER_ID]["module_name"] == names.BUNDLER_MODULE
    assert json.loads((jenv.config_dir / "jupyter_notebook_config.json").read_text()) == {
        "NotebookApp": {"nbserver_extensions": {"nbext_pkg": True}}
    }
    assert run(jenv, "nbext_pkg", "doctor").returncode == 0

    done = run(jenv, "nbext_pkg", "uninstall", "--user")
    assert done.returncode == 0, done.stderr
    assert snapshot(jenv.config_dir, jenv.data_dir) == before


def test_install_keeps_what_the_folders_own_d_files_already_enable(jenv):
    """As `jupyter nbextension enable` does (the notebook's config manager): a value a
    <section>.d/ file of the same folder sets already is not repeated in <section>.json."""
    tree_d = jenv.config_dir / "nbconfig" / "tree.d"
    tree_d.mkdir(parents=True)
    (tree_d / "nbext_pkg.json").write_text(json.dumps({"load_extensions": {TREE: True}}))
    assert run(jenv, "nbext_pkg", "install", "--user").returncode == 0
    assert not (jenv.config_dir / "nbconfig" / "tree.json").exists()
    notebook = json.loads((jenv.config_dir / "nbconfig" / "notebook.json").read_text())
    assert notebook["load_extensions"] == {NOTEBOOK: True}
    assert run(jenv, "nbext_pkg", "doctor").returncode == 0


def test_what_install_sets_up_works_in_a_real_server(jenv, tmp_path):
    assert run(jenv, "nbext_pkg", "install", "--user", "--symlink").returncode == 0
    assert (jenv.data_dir / "nbextensions" / "nbext_pkg").is_symlink()
    (tmp_path / "root").mkdir()
    for flavour in NotebookServer.FLAVOURS:
        server = NotebookServer(jenv, tmp_path / "root", flavour=flavour).start()
        try:
            assert server.api("GET", "nbext_pkg/api/status", expect=200).json()["name"] == "nbext_pkg"
            config = server.api("GET", "api/config/tree", expect=200).json()
            assert config["load_extensions"][TREE] is True
        finally:
            server.stop()
