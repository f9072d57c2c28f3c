"""Real parts for tests and benchmarks: a temporary Jupyter environment, a
notebook server subprocess in it, and headless Chromium.

Nothing here is faked: the server is ``python -m notebook`` with a real
ipykernel, configured only through the real ``jupyter ...`` commands.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from client import ServerClient
from client import url_path as url_path  # the tests and benchmarks import it from here

REPO = Path(__file__).resolve().parent.parent
# JupyterHub percent-encodes user names in the base URL; a raw "é" would make
# notebook 6.5.7 answer 404 everywhere.
AWKWARD_BASE_URL = "/user/t%C3%A9st@x/"


def wait_until(predicate, timeout, what, interval=0.02):
    """Poll ``predicate`` until it returns something truthy; fail naming ``what``.

    This waits on a condition with a deadline, never for a fixed time.
    """
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout} s waiting for {what}")
        pause.wait(interval)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterEnv:
    """A temporary JUPYTER_CONFIG_DIR / DATA_DIR / RUNTIME_DIR / IPYTHONDIR."""

    def __init__(self, base=None, python=sys.executable):
        self.base = Path(base or tempfile.mkdtemp(prefix="nbext_pkg-env-"))
        self.python = python
        self.config_dir = self.base / "config"
        self.data_dir = self.base / "data"
        self.runtime_dir = self.base / "runtime"
        self.ipython_dir = self.base / "ipython"
        for d in (self.config_dir, self.data_dir, self.runtime_dir, self.ipython_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ)
        self.env.update(
            JUPYTER_CONFIG_DIR=str(self.config_dir),
            JUPYTER_DATA_DIR=str(self.data_dir),
            JUPYTER_RUNTIME_DIR=str(self.runtime_dir),
            IPYTHONDIR=str(self.ipython_dir),
            # Inside a virtual environment jupyter_core lets the environment's
            # files win over the user's; the temporary user folders must win.
            JUPYTER_PREFER_ENV_PATH="0",
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONUNBUFFERED="1",
        )
        for name in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH"):
            self.env.pop(name, None)

    def jupyter(self, *args, check=True, merge_output=False):
        """Run ``jupyter <args>`` in this environment; return the completed process.

        The subcommand's entry point runs under ``self.python``, so that
        ``--sys-prefix`` means that interpreter's prefix even where its
        ``bin/`` holds no ``jupyter-*`` scripts.
        """
        from importlib.metadata import entry_points

        (script,) = entry_points(group="console_scripts", name=f"jupyter-{args[0]}")
        module, func = script.value.split(":")
        launcher = (
            f"import sys; sys.argv[0] = {script.name!r}; "
            f"from {module} import {func} as main; sys.exit(main())"
        )
        proc = subprocess.run(
            [self.python, "-c", launcher, *args[1:]],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_output else subprocess.PIPE,
            text=True,
            timeout=120,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"jupyter {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def install_nbext_pkg(self, symlink=True, flavour="notebook"):
        """Install and enable every part with the real commands, at user level,
        as a user of ``flavour`` ("notebook" 6 or "nbclassic") would.

        Tests link the files (edits show without reinstalling); benchmarks
        copy them, as ``pip install`` does.
        """
        link = ["--symlink"] if symlink else []
        if flavour == "nbclassic":
            self.jupyter("nbclassic-extension", "install", "--py", "nbext_pkg", "--user", *link)
            self.jupyter("nbclassic-extension", "enable", "--py", "nbext_pkg", "--user")
            # jupyter_server's own `server extension enable` refuses a module that no
            # config file names yet; `pip install` puts this file in <prefix>/etc/jupyter.
            d = self.config_dir / "jupyter_server_config.d"
            d.mkdir(exist_ok=True)
            shutil.copy(REPO / "jupyter-config" / "jupyter_server_config.d" / "nbext_pkg.json", d)
            self.jupyter("nbclassic-bundlerextension", "enable", "--py", "nbext_pkg", "--user")
            return
        self.jupyter("nbextension", "install", "--py", "nbext_pkg", "--user", *link)
        self.jupyter("nbextension", "enable", "--py", "nbext_pkg", "--user")
        self.jupyter("serverextension", "enable", "--py", "nbext_pkg", "--user")
        self.jupyter("bundlerextension", "enable", "--py", "nbext_pkg", "--user")

    def add_kernelspec(self, name, display_name, argv=None):
        """A kernelspec in the temporary data dir; argv defaults to this Python's ipykernel."""
        folder = self.data_dir / "kernels" / name
        folder.mkdir(parents=True, exist_ok=True)
        argv = argv or [self.python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        spec = {"argv": argv, "display_name": display_name, "language": "python"}
        (folder / "kernel.json").write_text(json.dumps(spec, indent=1))
        return folder

    def cleanup(self):
        shutil.rmtree(self.base, ignore_errors=True)


class NotebookServer(ServerClient):
    """A ``jupyter notebook`` (notebook 6) or ``jupyter nbclassic`` (jupyter_server)
    subprocess on 127.0.0.1 and a free port, and the client that calls it."""

    FLAVOURS = ("notebook", "nbclassic")

    def __init__(
        self, jenv, root, base_url="/", log_path=None, extra_args=(), flavour="notebook", test_modules=False
    ):
        """``test_modules``: the server can import the modules in tests/ (a contents
        manager or server extension made for a test)."""
        assert flavour in self.FLAVOURS, flavour
        self.flavour = flavour
        self.jenv = jenv
        self.env = dict(jenv.env)
        if test_modules:
            self.env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(Path(__file__).resolve().parent), self.env.get("PYTHONPATH")) if p
            )
        self.root = Path(root)
        self.base_url = base_url
        self.port = free_port()
        super().__init__(f"http://127.0.0.1:{self.port}{base_url}", uuid.uuid4().hex)
        self.log_path = Path(log_path or jenv.base / f"server-{self.port}.log")
        self.extra_args = list(extra_args)
        self.proc = None
        self.info = None

    def start(self, timeout=60):
        app = "NotebookApp" if self.flavour == "notebook" else "ServerApp"
        args = [
            self.jenv.python,
            "-m",
            self.flavour,
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            f"--{app}.port_retries=0",
            f"--NotebookApp.token={self.token}"
            if self.flavour == "notebook"
            else f"--IdentityProvider.token={self.token}",
            f"--{app}.base_url={self.base_url}",
            f"--{app}.root_dir={self.root}" if self.flavour == "nbclassic" else f"--notebook-dir={self.root}",
            *self.extra_args,
        ]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            args,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=str(self.root),
            start_new_session=True,
        )
        prefix = "nbserver" if self.flavour == "notebook" else "jpserver"
        info_file = self.jenv.runtime_dir / f"{prefix}-{self.proc.pid}.json"

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the notebook server exited with {self.proc.returncode}:\n{self.log_text()}"
                )
            if info_file.exists() and info_file.stat().st_size:
                try:
                    return json.loads(info_file.read_text())
                except json.JSONDecodeError:
                    return None  # caught while being written
            return None

        self.info = wait_until(ready, timeout, f"the server's runtime file {info_file}")
        # jupyter_server 2 writes that file before its loop binds the port: wait for both.
        wait_until(self._listening, timeout, f"the server to listen on port {self.port}")
        return self

    def _listening(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"the notebook server exited with {self.proc.returncode}:\n{self.log_text()}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def state(self):
        """Say what the server was doing: its exit status and the end of its log."""
        state = "running" if self.proc and self.proc.poll() is None else f"exited ({self.proc.poll()})"
        return f"the {self.flavour} server is {state}; its log ends:\n{self.log_text()[-3000:]}"

    def log_text(self):
        return read_log(self.log_path)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            # The server shuts its kernels down on SIGTERM.
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()
        self.close()


def read_log(path):
    """A log file's text so far ("" before it exists)."""
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def chromium_options(profile, download_dir=None, lang=None, network_log=False):
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = os.environ.get("NBEXT_PKG_CHROMIUM", "/usr/bin/chromium")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    if lang:
        options.add_argument(f"--lang={lang}")
    prefs = {"profile.default_content_setting_values.popups": 1}
    if lang:
        prefs["intl.accept_languages"] = lang
    if download_dir:
        prefs.update(
            {
                "download.default_directory": str(download_dir),
                "download.prompt_for_download": False,
            }
        )
    options.add_experimental_option("prefs", prefs)
    logs = {"browser": "ALL"}
    if network_log:  # the DevTools events, read with driver.get_log("performance")
        logs["performance"] = "ALL"
    options.set_capability("goog:loggingPrefs", logs)
    return options


def start_chromium(download_dir=None, lang=None, network_log=False):
    """Headless Chromium through Debian's chromedriver, on a fresh profile that
    ``quit()`` removes (about 70 MB each); never downloads anything."""
    os.environ["SE_OFFLINE"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="nbext_pkg-chromium-")

    class Chromium(webdriver.Chrome):
        def quit(self):
            # (Selenium calls quit() itself when the session cannot start: before
            # __init__ returns, so the profile is this closure's, not an attribute.)
            try:
                super().quit()
            finally:
                shutil.rmtree(profile, ignore_errors=True)

    service = Service(executable_path=os.environ.get("NBEXT_PKG_CHROMEDRIVER", "/usr/bin/chromedriver"))
    try:
        driver = Chromium(service=service, options=chromium_options(profile, download_dir, lang, network_log))
    except BaseException:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    driver.profile = profile
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    return driver


def overlay_venv(folder):
    """A new virtual environment whose prefix is ``folder`` but which imports
    this environment's packages (a .pth line), so a command's ``--sys-prefix``
    or a ``pip install`` writes into ``folder`` and nowhere else."""
    import site
    import sysconfig

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = Path(folder) / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = [p for p in site.getsitepackages() if Path(p).is_dir()] or [sysconfig.get_path("purelib")]
    # addsitedir, not a plain path line: the parent's own .pth files must run too
    # (setuptools' distutils shim, which notebook 6 needs from Python 3.12 on).
    (Path(purelib) / "_nbext_pkg_parent_env.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in ours)
    )
    # The packages borrowed that way enable themselves by files in their own prefix
    # (nbclassic, notebook_shim for jupyter_server): the new prefix needs them too.
    for found in (Path(sys.prefix) / "etc" / "jupyter").glob("*.d/*.json"):
        if found.name != "nbext_pkg.json":
            copy = Path(folder) / "etc" / "jupyter" / found.parent.name / found.name
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(found, copy)
    return python
