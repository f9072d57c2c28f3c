"""A real JupyterHub for tests: the hub from its Python package, the
configurable-http-proxy from npm (./scripts/test installs it), a shared
password, and single-user servers spawned as local processes of this machine.

The single-user server is JupyterHub's default (jupyter_server, with nbclassic
serving /tree) or notebook 6's own (``JUPYTERHUB_SINGLEUSER_APP``). It runs
with the given JupyterEnv's configuration, where nbext_pkg is installed.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import requests
from client import ServerClient
from harness import free_port, wait_until

SINGLE_USER_APPS = {
    "jupyter_server": None,  # JupyterHub's default
    "notebook": "notebook.notebookapp.NotebookApp",
}

CONFIG = """
import json
import os
c = get_config()  # noqa
e = os.environ
c.JupyterHub.bind_url = "http://127.0.0.1:" + e["NBEXT_HUB_PORT"] + "/"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:" + e["NBEXT_HUB_API_PORT"]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:" + e["NBEXT_HUB_PROXY_API_PORT"]
c.ConfigurableHTTPProxy.command = [e["NBEXT_HUB_PROXY"]]
c.ConfigurableHTTPProxy.auth_token = e["NBEXT_HUB_PROXY_TOKEN"]
c.ConfigurableHTTPProxy.pid_file = os.path.join(e["NBEXT_HUB_RUN"], "proxy.pid")
c.JupyterHub.pid_file = os.path.join(e["NBEXT_HUB_RUN"], "hub.pid")
c.JupyterHub.db_url = "sqlite:///:memory:"
c.JupyterHub.cookie_secret = bytes.fromhex(e["NBEXT_HUB_COOKIE_SECRET"])
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = e["NBEXT_HUB_PASSWORD"]
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = e["NBEXT_HUB_HOME"]
c.Spawner.cmd = [e["NBEXT_HUB_SINGLEUSER"]]
c.Spawner.args = ["--allow-root"] + json.loads(e["NBEXT_HUB_SINGLEUSER_ARGS"])  # the tests run as root
c.Spawner.default_url = "/tree"
c.Spawner.start_timeout = 90
c.Spawner.http_timeout = 90
c.Spawner.environment = {k[len("NBEXT_USER_"):]: v for k, v in e.items() if k.startswith("NBEXT_USER_")}
c.JupyterHub.services = [{"name": "nbext-tests", "api_token": e["NBEXT_HUB_API_TOKEN"]}]
c.JupyterHub.load_roles = [{"name": "nbext-tests", "services": ["nbext-tests"],
                            "scopes": ["read:users", "read:servers", "access:servers", "servers"]}]
"""


def proxy_command():
    found = os.environ.get("NBEXT_PKG_CHP") or str(
        Path(sys.prefix) / "chp" / "node_modules" / ".bin" / "configurable-http-proxy"
    )
    if not Path(found).exists():
        raise RuntimeError(
            f"configurable-http-proxy is missing at {found}: run ./scripts/test, which installs it from npm"
        )
    return found


class Hub:
    """JupyterHub on 127.0.0.1, one user, one single-user ``flavour``."""

    def __init__(self, jenv, run_dir, home, flavour, user="jö@hub", args=()):
        self.jenv, self.flavour, self.user = jenv, flavour, user
        self.args = list(args)  # more command-line arguments for the single-user server
        self.run, self.home = Path(run_dir), Path(home)
        self.password = secrets.token_hex(8)
        self.api_token = secrets.token_hex(16)
        self.port = free_port()
        self.proc = None
        self.log_path = self.run / "hub.log"
        # JupyterHub escapes user names for URLs this way.
        self.user_path = f"/user/{quote(user, safe='@~')}/"
        # The hub's own REST API (``hub/api/...``), with our service's token.
        self.client = ServerClient(self.url + "/", self.api_token)
        self._user_server = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=60):
        self.run.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        (self.run / "jupyterhub_config.py").write_text(CONFIG)
        env = dict(os.environ)
        env.update(
            NBEXT_HUB_PORT=str(self.port),
            NBEXT_HUB_API_PORT=str(free_port()),
            NBEXT_HUB_PROXY_API_PORT=str(free_port()),
            NBEXT_HUB_PROXY=proxy_command(),
            NBEXT_HUB_PROXY_TOKEN=secrets.token_hex(16),
            NBEXT_HUB_RUN=str(self.run),
            NBEXT_HUB_COOKIE_SECRET=secrets.token_hex(32),
            NBEXT_HUB_PASSWORD=self.password,
            NBEXT_HUB_HOME=str(self.home),
            NBEXT_HUB_API_TOKEN=self.api_token,
            NBEXT_HUB_SINGLEUSER=str(Path(sys.executable).parent / "jupyterhub-singleuser"),
            NBEXT_HUB_SINGLEUSER_ARGS=json.dumps(self.args),
        )
        user_env = {
            k: self.jenv.env[k]
            for k in (
                "JUPYTER_CONFIG_DIR",
                "JUPYTER_DATA_DIR",
                "JUPYTER_RUNTIME_DIR",
                "IPYTHONDIR",
                "JUPYTER_PREFER_ENV_PATH",
                "JUPYTER_PLATFORM_DIRS",
                "PYTHONUNBUFFERED",
            )
        }
        user_env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
        if SINGLE_USER_APPS[self.flavour]:
            user_env["JUPYTERHUB_SINGLEUSER_APP"] = SINGLE_USER_APPS[self.flavour]
        env.update({f"NBEXT_USER_{k}": v for k, v in user_env.items()})
        env.pop("JUPYTERHUB_SINGLEUSER_APP", None)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(self.run / "jupyterhub_config.py")],
            cwd=str(self.run),
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterHub exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                return requests.get(self.url + "/hub/api/", timeout=5).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(up, timeout, "JupyterHub to answer through its proxy", interval=0.1)
        return self

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def api(self, method, path, expect=None, **kwargs):
        """The hub's REST API (``hub/api/...``) with our service's token."""
        return self.client.api(method, path, expect=expect, **kwargs)

    def user_server(self):
        """The user's server through the proxy: what page objects and tests need of a server."""
        if self._user_server is None:
            self._user_server = UserServer(self)
        return self._user_server

    def spawned(self, timeout=120):
        """The user's server, started through the hub's API unless it runs already."""
        server = self.user_server()
        if server.api("GET", "nbext_pkg/api/status", allow_redirects=False).status_code != 200:
            started = self.api("POST", f"hub/api/users/{quote(self.user, safe='')}/server")
            assert started.status_code in (201, 202, 400), started.text
            wait_until(
                lambda: server.api("GET", "nbext_pkg/api/status", allow_redirects=False).status_code == 200,
                timeout,
                "the user's server to answer through the proxy",
                interval=0.2,
            )
        return server

    def _processes(self):
        """The hub's descendants: the proxy, the single-user server, its kernels."""
        out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
        children = {}
        for line in out.splitlines():
            pid, ppid = map(int, line.split())
            children.setdefault(ppid, []).append(pid)
        found, todo = [], [self.proc.pid]
        while todo:
            for kid in children.get(todo.pop(), []):
                found.append(kid)
                todo.append(kid)
        return found

    def stop(self):
        if self.proc is None:
            return
        others = self._processes()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the hub stops the servers and the proxy
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        # Whatever outlived it (a kernel takes a moment to notice its parent left).
        try:
            wait_until(lambda: not any(_alive(p) for p in others), 10, "the hub's processes to exit")
        except TimeoutError:
            pass  # killed below
        for pid in others:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        self._log.close()
        self.client.close()
        if self._user_server is not None:
            self._user_server.close()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class UserServer(ServerClient):
    """The user's single-user server behind the hub's proxy, called with our service's token."""

    def __init__(self, hub):
        super().__init__(hub.url + hub.user_path, hub.api_token)
        self.hub = hub
        self.base_url = hub.user_path

    def state(self):
        hub = self.hub
        running = "running" if hub.proc is not None and hub.proc.poll() is None else "not running"
        return f"the hub is {running}; its log ends:\n{hub.log_text()[-3000:]}"
