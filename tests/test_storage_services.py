"""The storage services of tests/storage.py really run: each kind of server
starts, lists, stores and gives back a file byte for byte, and every service
listens on the loopback address only."""

import os

import nbformat
import psutil
import pytest
from storage import STORAGE_KINDS, get_file, list_dir, put_dir, put_file, put_notebook

# The name a user might really give, where URL escaping goes wrong.
AWKWARD = "dossier ünï 中文 #1"
BIG = 50 * 1024 * 1024


@pytest.fixture(scope="module", params=STORAGE_KINDS)
def server(request, session_storage_server):
    return session_storage_server(request.param, base_url="/st%C3%B6rage/")


@pytest.fixture
def postgres_or_s3(request, server):
    """Where the server keeps its files, to look there past the server."""
    return request.getfixturevalue("postgres" if server.storage == "pgcontents" else "seaweedfs")


def stored_names(server, store):
    """The paths of the files the store itself holds for ``server``."""
    if server.storage == "pgcontents":
        rows = store.psql(
            f"SELECT parent_name || name FROM pgcontents.files WHERE user_id = '{server.pg_user_id}'",
            database=store.database,
        )
        return {line[1:] for line in rows.splitlines()}
    pages = store.client.get_paginator("list_objects_v2").paginate(
        Bucket=store.bucket, Prefix=server.s3_prefix + "/"
    )
    return {o["Key"][len(server.s3_prefix) + 1 :] for page in pages for o in page.get("Contents", [])}


def listening_addresses(pid):
    """Where ``pid`` and its children listen; children that end meanwhile
    (PostgreSQL's backends come and go) are passed over."""
    found = set()
    for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        try:
            found |= {
                (c.laddr.ip, c.laddr.port)
                for c in proc.net_connections("inet")
                if c.status == psutil.CONN_LISTEN
            }
        except psutil.NoSuchProcess:
            pass
    return found


def test_postgres_is_the_runs_own_and_on_loopback_only(postgres):
    assert postgres.psql("SELECT current_setting('data_directory')").strip() == str(postgres.data)
    addresses = listening_addresses(postgres.pid)
    assert addresses == {("127.0.0.1", postgres.port)}


def test_pgcontents_schema_is_migrated_to_its_head(pgcontents_db, postgres):
    assert (
        postgres.psql("SELECT version_num FROM alembic_version", database=postgres.database).strip()
        == "2d46c89138b0"
    )
    keys = postgres.psql(
        "SELECT conname FROM pg_constraint WHERE contype = 'f' "
        "AND connamespace = 'pgcontents'::regnamespace ORDER BY 1",
        database=postgres.database,
    ).split()
    assert keys == [
        "directories_parent_user_id_fkey",
        "directories_user_id_fkey",
        "files_user_id_fkey",
        "files_user_id_fkey1",
        "remote_checkpoints_user_id_fkey",
    ]


def test_seaweedfs_listens_on_loopback_only_and_checks_keys(seaweedfs):
    addresses = listening_addresses(seaweedfs.proc.pid)
    assert {ip for ip, _ in addresses} == {"127.0.0.1"}
    assert set(seaweedfs.ports.values()) <= {port for _, port in addresses}
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="InvalidAccessKeyId"):
        seaweedfs._client(key="someone-else", secret="x").list_buckets()
    names = [b["Name"] for b in seaweedfs.client.list_buckets()["Buckets"]]
    assert names == [seaweedfs.bucket]


def test_server_starts_and_lists_an_empty_store(server):
    root = server.api("GET", "api/contents", expect=200).json()
    assert root["type"] == "directory"
    if hasattr(server, "local_prefix"):
        assert server.local_prefix in list_dir(server)
        assert server.api("GET", "api/contents/local", expect=200).json()["type"] == "directory"
    tree = server.http.get(server.url + "tree", timeout=30)
    assert tree.status_code == 200 and "notebook_list" in tree.text


def test_file_round_trips_byte_for_byte(server, postgres_or_s3):
    data = bytes(range(256)) * 4 + b"\x00\r\n\xff"
    put_dir(server, AWKWARD)
    model = put_file(server, f"{AWKWARD}/fich ier é.bin", data)
    assert model["path"] == f"{AWKWARD}/fich ier é.bin"
    assert get_file(server, f"{AWKWARD}/fich ier é.bin") == data
    assert "fich ier é.bin" in list_dir(server, AWKWARD)
    server.api("GET", "api/contents/missing%20folder/none.txt", expect=404)
    assert stored_names(server, postgres_or_s3) >= {f"{AWKWARD}/fich ier é.bin"}


def test_notebook_round_trips(server):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('ünï')")])
    put_notebook(server, "nb ünï.ipynb", nb)
    got = server.api("GET", "api/contents/nb%20%C3%BCn%C3%AF.ipynb", expect=200).json()
    assert got["type"] == "notebook"
    assert got["content"]["cells"][0]["source"] == "print('ünï')"


def test_fifty_mebibytes_round_trip(server, postgres_or_s3):
    data = os.urandom(BIG)
    # The hybrid server's folder on disk too, where the bytes can be read back directly.
    for where in ["", f"{server.local_prefix}/"] if hasattr(server, "local_prefix") else [""]:
        put_file(server, f"{where}big ünï.bin", data)
        assert get_file(server, f"{where}big ünï.bin") == data
    if hasattr(server, "local_prefix"):
        assert (server.local_root / "big ünï.bin").read_bytes() == data
    assert "big ünï.bin" in stored_names(server, postgres_or_s3)
