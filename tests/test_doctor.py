"""`jupyter nbext_pkg doctor` (nbext_pkg/doctor.py) in temporary Jupyter environments with
broken set-ups: what it finds, which file wins, the command it names (which works), and
what a warm kernel costs."""

import json
import re

import pytest
from cli import run
from harness import JupyterEnv, overlay_venv

from nbext_pkg import names

TREE = names.PAGE_MODULES["tree"]


@pytest.fixture
def jenv(tmp_path):
    return JupyterEnv(tmp_path / "env")


def test_doctor_finds_a_user_level_disable_and_names_the_command(jenv):
    run(jenv, "nbext_pkg", "install", "--user")
    jenv.jupyter("nbextension", "disable", TREE, "--user", "--section=tree")
    done = run(jenv, "nbext_pkg", "doctor")
    assert done.returncode == 1
    tree_json = jenv.config_dir / "nbconfig" / "tree.json"
    assert f"disabled (false) in {tree_json}" in done.stdout
    assert f"The tree page module is disabled by {tree_json}, which wins over the other files." in done.stdout
    assert f"fix: jupyter nbextension enable {TREE} --section=tree --user" in done.stdout
    # The fix it names works.
    jenv.jupyter("nbextension", "enable", TREE, "--section=tree", "--user")
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
    user_tree.write_text(json.dumps({"load_extensions": {TREE: False}}))
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
    assert f"fix: jupyter nbextension enable {TREE} --section=tree --user" in done.stdout


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
