"""bundlers/environment.py: requirements.txt and runtime.txt asked of the kernel's own
interpreter, in environments made here (a venv with a distribution installed by hand,
the way pip leaves one: a module and its .dist-info folder)."""

import glob
import os
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from nbext_pkg.bundlers import environment


def make_env(folder, python=sys.executable, dists=(("Tabby-Thing", "1.2.3", "tabby"),)):
    """A venv at ``folder`` (no pip) holding ``dists``: (distribution, version, module)."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(folder)], check=True)
    site = glob.glob(str(folder / "lib" / "python*" / "site-packages"))[0]
    for dist, version, module in dists:
        install(site, dist, version, module)
    return str(folder / "bin" / "python"), site


def install(site, dist, version, module, top_level=True):
    with open(os.path.join(site, f"{module}.py"), "w") as f:
        f.write("VALUE = 1\n")
    info = os.path.join(site, f"{dist.replace('-', '_')}-{version}.dist-info")
    os.makedirs(info)
    with open(os.path.join(info, "METADATA"), "w") as f:
        f.write(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    if top_level:
        with open(os.path.join(info, "top_level.txt"), "w") as f:
            f.write(module + "\n")
    with open(os.path.join(info, "RECORD"), "w") as f:
        f.write(f"{module}.py,,\n{os.path.basename(info)}/METADATA,,\n")


KERNEL = ["-m", "ipykernel_launcher", "-f", "{connection_file}"]


def spec(argv, env=None, language="python"):
    """A kernelspec; a lone interpreter gets ipykernel's usual arguments."""
    argv = argv + KERNEL if len(argv) == 1 else argv
    return SimpleNamespace(argv=argv, env=env or {}, language=language, resource_dir="/nowhere")


def fake_python(folder, body):
    """A program named python3 in ``folder`` that runs the shell's ``body``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "python3"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


@pytest.fixture(autouse=True)
def forget():
    environment.PROBES.clear()
    yield
    environment.PROBES.clear()


def test_the_kernels_interpreter_pins_what_only_it_has(tmp_path):
    python, _ = make_env(tmp_path / "kenv")
    specs = {"tabenv": spec([python, "-m", "ipykernel_launcher", "-f", "{connection_file}"])}.get
    env = environment.of_notebook(
        ["tabby", "os", "nbformat", "no_such_mod_xyz"], {"name": "tabenv", "language": "python"}, None, specs
    )
    text = env.requirements(["tabby", "os", "nbformat", "no_such_mod_xyz"])
    assert env.source == "kernel" and env.kernelspec == "tabenv"
    lines = text.splitlines()
    assert "Tabby-Thing==1.2.3" in lines
    # The server has nbformat; the kernel's environment does not: not pinned.
    assert not any(line.startswith("nbformat") for line in lines)
    assert "# nbformat: imported, but no installed distribution provides it" in lines
    assert "# no_such_mod_xyz: imported, but no installed distribution provides it" in lines
    assert not any(line.startswith(("os", "# os")) for line in lines)
    assert "the kernel's environment (tabenv)" in lines[0]
    assert env.runtime() == "python-{}.{}\n".format(*sys.version_info[:2])
    assert env.python["implementation"] == "CPython" and env.python["platform"] == sys.platform


def test_the_server_is_asked_when_the_kernelspec_is_not_there_or_fails(tmp_path):
    import nbformat

    def missing(name):
        raise KeyError(name)

    failing = fake_python(tmp_path / "failing", "exit 3")
    for specs in (missing, {"x": spec(["/nonexistent/python"])}.get, {"x": spec([failing])}.get, None):
        env = environment.of_notebook(["nbformat"], {"name": "x"}, None, specs)
        assert env.source == "server"
        assert f"nbformat=={nbformat.__version__}" in env.requirements(["nbformat"]).splitlines()


def test_a_kernel_that_does_not_answer_in_time_is_not_waited_for(tmp_path):
    # It also starts a grandchild that holds the pipes: the whole group is ended.
    slow = fake_python(tmp_path / "slow", "sleep 30 & sleep 30")
    started = time.monotonic()
    env = environment.of_notebook(
        ["nbformat"], {"name": "slow"}, None, {"slow": spec([slow])}.get, timeout=1.0
    )
    assert env.source == "server"
    assert time.monotonic() - started < 8


def test_a_kernel_that_says_too_much_is_not_listened_to(tmp_path):
    chatty = fake_python(tmp_path / "chatty", "yes 0123456789012345678901234567890123456789")
    started = time.monotonic()
    env = environment.of_notebook(
        ["nbformat"], {"name": "chatty"}, None, {"chatty": spec([chatty])}.get, timeout=30
    )
    assert env.source == "server" and time.monotonic() - started < 10


def test_python_means_the_servers_interpreter_as_jupyter_client_decides():
    assert environment.interpreter(spec(["python", "-m", "ipykernel_launcher"])) == sys.executable
    assert environment.interpreter(spec(["python3", "-m", "ipykernel", "-f", "x"])) == sys.executable
    assert environment.interpreter(spec(["{prefix}/bin/python", "-m", "ipykernel_launcher"])) == os.path.join(
        sys.prefix, "bin", "python"
    )
    assert environment.interpreter(spec([])) is None
    assert environment.interpreter(spec(["no-such-interpreter-xyz"])) is None
    assert environment.interpreter(spec(["python3", "-m", "some_other_kernel"])) is None


def test_a_launcher_that_starts_the_kernels_python_counts_as_that_python(tmp_path):
    python, _ = make_env(tmp_path / "conda-like")
    # As nb_conda_kernels writes them: the server's python runs a runner, which runs the
    # environment's own python with ipykernel.
    runner = spec(
        [
            "python",
            "-m",
            "nb_conda_kernels.runner",
            "/opt/conda",
            str(tmp_path),
            python,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
        ]
    )
    assert environment.interpreter(runner) == python
    env = environment.of_notebook(["tabby", "tornado"], {"name": "c"}, None, {"c": runner}.get)
    lines = env.requirements(["tabby", "tornado"]).splitlines()
    assert env.source == "kernel" and "Tabby-Thing==1.2.3" in lines
    assert not any(line.startswith("tornado") for line in lines)  # the server's, not the kernel's


def test_a_kernelspec_that_is_a_shell_script_is_not_run(tmp_path):
    marker = tmp_path / "ran"
    wrapper = spec(
        ["bash", "-c", f"touch {marker}; exec python -m ipykernel_launcher -f $0", "{connection_file}"]
    )
    assert environment.interpreter(wrapper) is None
    env = environment.of_notebook(["nbformat"], {"name": "w"}, None, {"w": wrapper}.get)
    assert env.source == "server" and not marker.exists()


def test_a_kernelspec_for_another_language_is_not_asked(tmp_path):
    python, _ = make_env(tmp_path / "kenv")
    specs = {"ir": spec([python], language="R")}.get
    env = environment.of_notebook(["tabby"], {"name": "ir", "language": "R"}, None, specs)
    assert env.source == "server"
    assert not environment.is_python({"name": "ir", "language": "R"}, None)
    assert environment.is_python(None, {"name": "python"})
    assert environment.is_python(None, None)


def test_the_kernelspecs_environment_variables_reach_the_interpreter(tmp_path):
    python, _ = make_env(tmp_path / "kenv", dists=())
    extra = tmp_path / "extra"
    extra.mkdir()
    install(str(extra), "Side-Path", "0.1", "sidepath")
    specs = {"k": spec([python], env={"PYTHONPATH": str(extra)})}.get
    env = environment.of_notebook(["sidepath"], {"name": "k"}, None, specs)
    assert "Side-Path==0.1" in env.requirements(["sidepath"]).splitlines()


def test_an_answer_is_remembered_until_the_environment_changes(tmp_path):
    python, site = make_env(tmp_path / "kenv")
    specs = {"k": spec([python])}.get
    first = environment.of_notebook(["tabby", "later"], {"name": "k"}, None, specs)
    assert "# later: imported, but no installed distribution provides it" in first.requirements(
        ["tabby", "later"]
    )
    calls = []
    real_run = environment._run

    def counting(*args, **kwargs):
        calls.append(args)
        return real_run(*args, **kwargs)

    environment._run = counting
    try:
        environment.of_notebook(["tabby", "later"], {"name": "k"}, None, specs)
        assert calls == []  # remembered
        before = os.stat(site).st_mtime_ns
        install(site, "Later-Dist", "2.0", "later")  # a pip install changes site-packages
        os.utime(site, ns=(before + 10**9, before + 10**9))  # as it would a clock tick later
        again = environment.of_notebook(["tabby", "later"], {"name": "k"}, None, specs)
    finally:
        environment._run = real_run
    assert len(calls) == 1
    assert "Later-Dist==2.0" in again.requirements(["tabby", "later"]).splitlines()


def test_nothing_in_the_notebooks_folder_shadows_the_probe(tmp_path, monkeypatch):
    python, _ = make_env(tmp_path / "kenv")
    (tmp_path / "json.py").write_text("raise SystemExit('shadowed')\n")
    monkeypatch.chdir(tmp_path)
    env = environment.of_notebook(["tabby"], {"name": "k"}, None, {"k": spec([python])}.get)
    assert env.source == "kernel"


def test_what_a_sitecustomize_prints_is_not_taken_for_the_answer(tmp_path):
    python, site = make_env(tmp_path / "kenv")
    with open(os.path.join(site, "sitecustomize.py"), "w") as f:
        f.write("print('hello from sitecustomize')\nprint('{\"modules\": {}}')\n")
    env = environment.of_notebook(["tabby"], {"name": "k"}, None, {"k": spec([python])}.get)
    assert "Tabby-Thing==1.2.3" in env.requirements(["tabby"]).splitlines()


def older_pythons():
    """Interpreters older than 3.10 (no packages_distributions), from pyenv."""
    root = (
        subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
        if any(os.access(os.path.join(p, "pyenv"), os.X_OK) for p in os.environ["PATH"].split(":"))
        else os.path.expanduser("~/.pyenv")
    )
    found = sorted(glob.glob(os.path.join(root, "versions", "3.[89].*", "bin", "python3")))
    return found


def test_a_kernel_on_python_3_8_or_3_9_is_read_without_packages_distributions(tmp_path):
    found = older_pythons()
    if not found and os.environ.get("CI") != "true":
        pytest.skip("no Python 3.8 or 3.9 here (pyenv)")
    assert found, "CI machines have pyenv's Python 3.8 and 3.9"
    for n, older in enumerate(found):
        python, site = make_env(tmp_path / f"old{n}", python=older)
        # No top_level.txt: the modules are found from the files the RECORD lists.
        install(site, "No-Top", "4.5", "notop", top_level=False)
        env = environment.of_notebook(
            ["tabby", "notop", "json"], {"name": "old"}, None, {"old": spec([python])}.get
        )
        lines = env.requirements(["tabby", "notop", "json"]).splitlines()
        assert env.source == "kernel", older
        assert "Tabby-Thing==1.2.3" in lines and "No-Top==4.5" in lines, lines
        assert not any("json" in line for line in lines)
        version = subprocess.run(
            [older, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True
        ).stdout.strip()
        assert env.runtime() == f"python-{version}\n"


def test_a_bare_python_after_nb_conda_kernels_runner_is_the_environments(tmp_path):
    python, _ = make_env(tmp_path / "envs" / "geo")
    runner = spec(
        [
            "python",
            "-m",
            "nb_conda_kernels.runner",
            "/opt/conda",
            str(tmp_path / "envs" / "geo"),
            "python",
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
        ]
    )
    found = environment.interpreter(runner)
    assert found is not None and os.path.samefile(found, python)
    # Any other launcher's bare word is not guessed: the server is asked, and says so.
    other = spec(["python", "-m", "some.launcher", "python", "-m", "ipykernel_launcher"])
    assert environment.interpreter(other) is None


def test_a_first_pip_install_user_is_seen(tmp_path):
    # Not a venv: a venv leaves the user's site-packages out of sys.path.
    python = os.path.join(sys.base_prefix, "bin", "python3")
    base = tmp_path / "userbase"
    specs = {"k": spec([python], env={"PYTHONUSERBASE": str(base)})}.get
    before = environment.of_notebook(["userdist"], {"name": "k"}, None, specs)
    assert "# userdist: imported" in before.requirements(["userdist"])
    site = subprocess.run(
        [python, "-c", "import site; print(site.getusersitepackages())"],
        env=dict(os.environ, PYTHONUSERBASE=str(base)),
        capture_output=True,
        text=True,
    ).stdout.strip()
    os.makedirs(site)
    install(site, "User-Dist", "1.0", "userdist")
    after = environment.of_notebook(["userdist"], {"name": "k"}, None, specs)
    assert "User-Dist==1.0" in after.requirements(["userdist"]).splitlines()


def test_a_kernel_python_without_importlib_metadata_is_not_taken_for_an_answer(tmp_path):
    found = sorted(
        glob.glob(os.path.join(os.path.expanduser("~/.pyenv"), "versions", "3.[67].*", "bin", "python3"))
    )
    if not found:
        pytest.skip("no Python 3.6 or 3.7 here (pyenv)")
    env = environment.of_notebook(["nbformat"], {"name": "old"}, None, {"old": spec([found[0]])}.get)
    assert env.source == "server"


def test_a_long_question_reaches_an_interpreter_that_reads_it_late(tmp_path):
    python, _ = make_env(tmp_path / "kenv")
    slow = fake_python(tmp_path / "late", f'sleep 1; exec {python} "$@"')
    imports = [f"module_with_a_long_name_{i:04d}_" + "x" * 80 for i in range(900)] + ["tabby"]
    env = environment.of_notebook(imports, {"name": "k"}, None, {"k": spec([slow])}.get)
    assert env.source == "kernel" and "Tabby-Thing==1.2.3" in env.requirements(imports).splitlines()
