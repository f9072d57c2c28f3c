"""`jupyter nbext_pkg install | uninstall | doctor | verify | open`, `jupyter contrib
nbext_pkg` and `python -m nbext_pkg`, in temporary Jupyter environments with broken set-ups
and with bundles good and tampered."""

import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
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
        json.dumps({"ServerApp": {"jpserver_extensions": {"other": True}}})
    )
    before = snapshot(jenv.config_dir, jenv.data_dir)

    done = run(jenv, "nbext_pkg", "install", "--user")
    assert done.returncode == 0, done.stderr
    assert "restart the notebook server" in done.stdout
    assert (jenv.data_dir / "nbextensions" / "nbext_pkg" / "tree.js").is_file()
    notebook = json.loads((nbconfig / "notebook.json").read_text())
    assert notebook["load_extensions"] == {"other/main": True, "nbext_pkg/notebook": True}
    assert notebook["bundlerextensions"]["nbext_pkg_bundle"]["module_name"] == "nbext_pkg.bundlers"
    assert json.loads((jenv.config_dir / "jupyter_notebook_config.json").read_text()) == {
        "NotebookApp": {"nbserver_extensions": {"nbext_pkg": True}}
    }
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
    for option in (
        "--NbextPkg.max_bundle_bytes",
        "--NbextPkg.max_bundle_files",
        "--NbextPkg.bundle_chunk_bytes",
        "--NbextPkg.open_max_files",
    ):
        assert option in done.stdout
    assert "A bundle over it is refused with 413" in done.stdout


# -- verify / open ------------------------------------------------------------------


def bundle_zip(path, changed=None):
    """A bundle of ours written by hand (nb/nb.ipynb, nb/data.csv, nb/MANIFEST.json), its
    members then replaced by ``changed`` (name -> bytes) as a tamperer would."""
    members = {
        "nb.ipynb": b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        "data.csv": b"a,b\n1,2\n",
    }
    manifest = {
        "generator": {"name": "nbext_pkg", "version": "0"},
        "notebook": "nb.ipynb",
        "files": [
            {"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in members.items()
        ],
        "skipped": [],
        "generated": {"manifest": "MANIFEST.json"},
    }
    members.update(changed or {})
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(f"nb/{name}", data)
        zf.writestr("nb/MANIFEST.json", json.dumps(manifest))
    return path


TAMPERED = "data.csv is not what MANIFEST.json lists: its SHA-256 differs."


def test_verify_says_a_good_bundle_is_good_and_names_what_a_tampered_one_breaks(jenv, tmp_path):
    good = bundle_zip(tmp_path / "good.zip")
    done = run(jenv, "verify", str(good), module=True)
    assert done.returncode == 0
    assert done.stdout == f"{good} is a good bundle: its 3 members match its manifest.\n"
    bad = bundle_zip(tmp_path / "bad.zip", {"data.csv": b"a,b\n6,6\n"})
    done = run(jenv, "verify", str(bad), module=True)
    assert (done.returncode, done.stdout.splitlines()) == (1, [TAMPERED])
    assert sorted(os.listdir(tmp_path)) == ["bad.zip", "env", "good.zip"]  # nothing written


def test_verify_and_open_without_a_bundle_are_usage_errors(jenv):
    done = run(jenv, "verify", module=True)
    assert done.returncode == 2
    assert "jupyter nbext_pkg: Give one bundle to check: jupyter nbext_pkg verify BUNDLE" in done.stderr
    done = run(jenv, "open", module=True)
    assert done.returncode == 2 and "jupyter nbext_pkg open BUNDLE [FOLDER]" in done.stderr


def test_open_makes_a_new_folder_beside_the_bundle_under_a_free_name(jenv, tmp_path):
    good = bundle_zip(tmp_path / "nb.zip")
    (tmp_path / "nb").mkdir()  # taken, and empty: never merged into
    done = run(jenv, "open", str(good), module=True)
    assert done.returncode == 0, done.stderr
    size = sum(p.stat().st_size for p in (tmp_path / "nb-1").iterdir())
    assert done.stdout.splitlines() == [
        f"Opened {good} into {tmp_path / 'nb-1'} (3 files, {size} bytes).",
        "notebook: nb.ipynb",
        "Every member matches its manifest (MANIFEST.json).",
    ]
    assert sorted(os.listdir(tmp_path / "nb-1")) == ["MANIFEST.json", "data.csv", "nb.ipynb"]
    assert os.listdir(tmp_path / "nb") == []


def test_open_reports_mismatches_keeps_the_folder_and_exits_1(jenv, tmp_path):
    bad = bundle_zip(tmp_path / "nb.zip", {"data.csv": b"a,b\n6,6\n", ".env": b"SECRET=1"})
    done = run(jenv, "open", str(bad), str(tmp_path / "mine"), module=True)
    assert done.returncode == 1
    size = sum(p.stat().st_size for p in (tmp_path / "mine").iterdir())
    # The hidden member is left out, so it is told as such rather than as unlisted.
    assert done.stdout.splitlines() == [
        f"Opened {bad} into {tmp_path / 'mine'} (3 files, {size} bytes).",
        "notebook: nb.ipynb",
        "left out: nb/.env (hidden)",
        f"mismatch: {TAMPERED}",
    ]
    assert (tmp_path / "mine" / "data.csv").read_bytes() == b"a,b\n6,6\n"
    assert not (tmp_path / "mine" / ".env").exists()


def test_open_into_a_folder_that_exists_is_refused_and_nothing_is_merged(jenv, tmp_path):
    good = bundle_zip(tmp_path / "nb.zip")
    (tmp_path / "there").mkdir()
    done = run(jenv, "open", str(good), str(tmp_path / "there"), module=True)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        f"jupyter nbext_pkg: {tmp_path / 'there'} already exists, and an archive is "
        "never opened into an existing folder, so nothing was opened.\n"
    )
    assert sorted(os.listdir(tmp_path)) == ["env", "nb.zip", "there"] and os.listdir(tmp_path / "there") == []
    done = run(jenv, "open", str(good), str(tmp_path / "no" / "such"), module=True)
    assert done.returncode == 1 and f"{tmp_path / 'no'} is not a folder" in done.stderr
    assert sorted(os.listdir(tmp_path)) == ["env", "nb.zip", "there"]


def test_open_takes_its_limits_from_the_configuration(jenv, tmp_path):
    good = bundle_zip(tmp_path / "nb.zip")
    done = run(jenv, "open", "--NbextPkg.open_max_files=2", str(good), module=True)
    assert done.returncode == 1
    assert done.stderr == (
        "jupyter nbext_pkg: The archive holds more members than NbextPkg.open_max_files "
        "allows (2), so nothing was opened.\n"
    )
    assert sorted(os.listdir(tmp_path)) == ["env", "nb.zip"]
    assert run(jenv, "open", "--NbextPkg.open_max_files=3", str(good), module=True).returncode == 0


def test_doctor_says_the_pool_is_off_and_what_a_pooled_kernel_costs(jenv):
    run(jenv, "nbext_pkg", "install", "--user")
    off = run(jenv, "nbext_pkg", "doctor")
    assert "warm kernel pool for notebook 6 (jupyter_notebook_config): off" in off.stdout
    assert "--NbextPkg.kernel_pool python3=1" in off.stdout
    lisp = jenv.data_dir / "kernels" / "nbext-lisp"
    lisp.mkdir(parents=True)
    (lisp / "kernel.json").write_text(json.dumps({"argv": ["sbcl"], "display_name": "L", "language": "lisp"}))
    # Read from the servers' own config files: one for notebook 6, one for jupyter_server.
    (jenv.config_dir / "jupyter_notebook_config.d").mkdir(exist_ok=True)
    (jenv.config_dir / "jupyter_notebook_config.d" / "pool.json").write_text(
        json.dumps({"NbextPkg": {"kernel_pool": {"python3": 2}}})
    )
    (jenv.config_dir / "jupyter_server_config.py").write_text("c.NbextPkg.kernel_pool = {'nbext-lisp': 1}\n")
    done = run(jenv, "nbext_pkg", "doctor")
    assert done.returncode == 0, done.stdout
    out = done.stdout
    notebook6 = out[out.index("pool for notebook 6") : out.index("pool for jupyter_server")]
    line = next(x for x in notebook6.splitlines() if x.strip().startswith("python3 x2:"))
    each, kept = re.search(r"(\d+) MiB each \(RSS\).*; (\d+) MiB kept", line).groups()
    assert 10 < int(each) < 1000 and int(kept) == pytest.approx(2 * int(each), abs=1)
    assert "nbext-lisp: refused, its language is lisp" in out[out.index("for jupyter_server") :]
