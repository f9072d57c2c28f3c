"""`jupyter nbext_pkg install | uninstall | doctor`, `jupyter contrib nbext_pkg`
and `python -m nbext_pkg`, in temporary Jupyter environments with broken set-ups."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from harness import JupyterEnv, NotebookServer, overlay_venv


@pytest.fixture
def jenv(tmp_path):
    return JupyterEnv(tmp_path / "env")


def run(jenv, *args, module=False):
    cmd = [jenv.python, "-m", "nbext_pkg", *args] if module else None
    if cmd is None:
        return jenv.jupyter(*args, check=False)
    return subprocess.run(cmd, env=jenv.env, capture_output=True, text=True, timeout=120)


def snapshot(*folders):
    """Every file and link; JSON files by content (the configuration, not its layout)."""
    out = {}
    for folder in folders:
        for p in Path(folder).rglob("*"):
            if p.is_symlink():
                out[str(p)] = ("link", str(p.resolve()))
            elif p.is_file():
                out[str(p)] = json.loads(p.read_text()) if p.suffix == ".json" else p.read_bytes()
    return out


def test_install_then_uninstall_leaves_the_configuration_as_found(jenv):
    nbconfig = jenv.config_dir / "nbconfig"
    nbconfig.mkdir(parents=True)
    # Somebody else's settings in the files we write to must survive both ways.
    (nbconfig / "notebook.json").write_text(json.dumps({"load_extensions": {"other/main": True}}))
    (jenv.config_dir / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"other": True}}}))
    before = snapshot(jenv.config_dir, jenv.data_dir)

    done = run(jenv, "nbext_pkg", "install", "--user")
    assert done.returncode == 0, done.stderr
    assert "restart the notebook server" in done.stdout
    assert (jenv.data_dir / "nbextensions" / "nbext_pkg" / "tree.js").is_file()
    notebook = json.loads((nbconfig / "notebook.json").read_text())
    assert notebook["load_extensions"] == {"other/main": True, "nbext_pkg/notebook": True}
    assert notebook["bundlerextensions"]["nbext_pkg_bundle"]["module_name"] == "nbext_pkg.bundlers"
    assert json.loads((jenv.config_dir / "jupyter_notebook_config.json").read_text()) == {
        "NotebookApp": {"nbserver_extensions": {"nbext_pkg": True}}}
    assert run(jenv, "nbext_pkg", "doctor").returncode == 0

    done = run(jenv, "nbext_pkg", "uninstall", "--user")
    assert done.returncode == 0, done.stderr
    assert snapshot(jenv.config_dir, jenv.data_dir) == before


def test_what_install_sets_up_works_in_a_real_server(jenv, tmp_path):
    assert run(jenv, "nbext_pkg", "install", "--user", "--symlink").returncode == 0
    assert (jenv.data_dir / "nbextensions" / "nbext_pkg").is_symlink()
    (tmp_path / "root").mkdir()
    for flavour in NotebookServer.FLAVOURS:
        server = NotebookServer(jenv, tmp_path / "root", flavour=flavour).start()
        try:
            assert server.api("GET", "nbext_pkg/api/status", expect=200).json()["name"] == "nbext_pkg"
            config = server.api("GET", "api/config/tree", expect=200).json()
            assert config["load_extensions"]["nbext_pkg/tree"] is True
        finally:
            server.stop()


def test_doctor_finds_a_user_level_disable_and_names_the_command(jenv):
    run(jenv, "nbext_pkg", "install", "--user")
    jenv.jupyter("nbextension", "disable", "nbext_pkg/tree", "--user", "--section=tree")
    done = run(jenv, "nbext_pkg", "doctor")
    assert done.returncode == 1
    tree_json = jenv.config_dir / "nbconfig" / "tree.json"
    assert f"disabled (false) in {tree_json}" in done.stdout
    assert f"The tree page module is disabled by {tree_json}, which wins over the other files." in done.stdout
    assert "fix: jupyter nbextension enable nbext_pkg/tree --section=tree --user" in done.stdout
    # The fix it names works.
    jenv.jupyter("nbextension", "enable", "nbext_pkg/tree", "--section=tree", "--user")
    assert run(jenv, "nbext_pkg", "doctor").returncode == 0


def test_doctor_finds_missing_files(jenv):
    run(jenv, "nbext_pkg", "install", "--user")
    (jenv.data_dir / "nbextensions" / "nbext_pkg" / "notebook.js").unlink()
    done = run(jenv, "nbext_pkg", "doctor")
    assert done.returncode == 1
    assert "lacks notebook.js" in done.stdout and "fix: jupyter nbext_pkg install --user" in done.stdout


def test_doctor_finds_a_disabled_server_extension(jenv):
    run(jenv, "nbext_pkg", "install", "--user")
    jenv.jupyter("serverextension", "disable", "--py", "nbext_pkg", "--user")
    done = run(jenv, "doctor", module=True)  # python -m nbext_pkg doctor
    assert done.returncode == 1
    assert "The server extension for notebook 6 is disabled by" in done.stdout
    assert "fix: jupyter serverextension enable --py nbext_pkg --user" in done.stdout


def test_doctor_with_nothing_set_up_says_what_to_run(jenv):
    done = run(jenv, "nbext_pkg", "doctor")
    assert done.returncode == 1
    assert "The page modules' files are not installed." in done.stdout
    assert "The tree page module is not enabled anywhere." in done.stdout


def test_inside_an_environment_its_config_wins_over_the_users(tmp_path):
    """jupyter_core's order: in a virtual environment the environment's folders
    come first, unless JUPYTER_PREFER_ENV_PATH=0 says otherwise."""
    python = overlay_venv(tmp_path / "venv")
    jenv = JupyterEnv(tmp_path / "env", python=str(python))
    assert run(jenv, "nbext_pkg", "install", "--sys-prefix").returncode == 0
    user_tree = jenv.config_dir / "nbconfig" / "tree.json"
    user_tree.parent.mkdir(parents=True, exist_ok=True)
    user_tree.write_text(json.dumps({"load_extensions": {"nbext_pkg/tree": False}}))
    env_tree = tmp_path / "venv" / "etc" / "jupyter" / "nbconfig" / "tree.json"

    jenv.env["JUPYTER_PREFER_ENV_PATH"] = "1"
    done = run(jenv, "nbext_pkg", "doctor")
    assert f"wins: enabled in {env_tree}" in done.stdout
    assert f"overridden: disabled (false) in {user_tree}" in done.stdout
    assert "tree page module is disabled" not in done.stdout

    jenv.env["JUPYTER_PREFER_ENV_PATH"] = "0"
    done = run(jenv, "nbext_pkg", "doctor")
    assert done.returncode == 1
    assert f"wins: disabled (false) in {user_tree}" in done.stdout
    assert "fix: jupyter nbextension enable nbext_pkg/tree --section=tree --user" in done.stdout


def test_the_same_app_through_jupyter_contrib(jenv):
    done = jenv.jupyter("contrib", "nbext_pkg", "doctor", check=False)
    assert done.returncode == 1 and "nbext_pkg" in done.stdout and "problem" in done.stdout
    assert jenv.jupyter("contrib", "nbext_pkg", "install", "--user", check=False).returncode == 0
    assert jenv.jupyter("contrib", "nbext_pkg", "doctor", check=False).returncode == 0


def test_bad_arguments_get_a_sentence_and_status_2(jenv):
    done = run(jenv, "nbext_pkg", "install", "--user", "--sys-prefix")
    assert done.returncode == 2
    assert "Give --user or --sys-prefix, not both." in done.stderr
    assert not (jenv.data_dir / "nbextensions").exists()
    assert sys.executable  # the suite's own interpreter runs the commands


def test_help_all_lists_the_server_options_with_their_help(jenv):
    done = run(jenv, "nbext_pkg", "--help-all")
    assert done.returncode == 0
    for option in ("--NbextPkg.max_bundle_bytes", "--NbextPkg.max_bundle_files",
                   "--NbextPkg.bundle_chunk_bytes"):
        assert option in done.stdout
    assert "A bundle over it is refused with 413" in done.stdout
