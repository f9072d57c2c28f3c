"""The warm kernel pool (c.NbextPkg.kernel_pool) against real servers and real
kernels: what a claimed kernel looks like from inside, next to a fresh one, and
how the pool behaves (hidden, culler-proof, refilled, replaced, stopped)."""

import json
import os
import signal
import threading
from pathlib import Path

import pytest
from conftest import BROKEN_KERNEL, write_notebook
from harness import NotebookServer, wait_until
from jupyter_client import BlockingKernelClient

ROUTE = "nbext_pkg/api/sessions"

PROBE = r"""
import json as _j, os as _o, sys as _s
_ip = get_ipython()
print(_j.dumps({"cwd": _o.getcwd(), "pwd": _ip.run_line_magic("pwd", ""), "env": dict(_o.environ),
                "path": _s.path, "session": _ip.user_ns.get("__session__"), "dh": list(_dh),
                "names": sorted(_ip.user_ns), "inputs": list(_ih), "modules": sorted(_s.modules),
                "start": _ip.starting_dir}, default=repr))
"""


def pool_status(server):
    return server.api("GET", "nbext_pkg/api/kernel_pool", expect=200).json()


def ready_kernels(server, name="python3"):
    return pool_status(server)["kernels"].get(name, {}).get("ready", [])


def wait_ready(server, name="python3", count=1, other_than=()):
    def found():
        ready = [k for k in ready_kernels(server, name) if k["kernel_id"] not in other_than]
        return len(ready) >= count and ready

    return wait_until(found, 60, f"{count} warm {name} kernel(s)")


def new_notebook(server, folder, name):
    write_notebook(server.root / folder / name, kernel_name="python3")
    return f"{folder}/{name}"


def start_session(server, path, route=ROUTE, kernel="python3"):
    # The name, as the notebook page's own session request gives it (jupyter_server makes
    # JPY_SESSION_NAME of it).
    body = {"path": path, "type": "notebook", "name": path.rsplit("/", 1)[-1], "kernel": {"name": kernel}}
    response = server.api("POST", route, json=body, expect=201)
    return response.json(), response.headers.get("X-Nbext-Pkg-Kernel")


def run(server, kernel_id, code, runtime_dir=None):
    """Run ``code`` as a user's cell in the kernel; (its reply content, its stdout)."""
    folder = runtime_dir or server.jenv.runtime_dir
    path = folder / f"kernel-{kernel_id}.json"
    # A server that does not wait for its kernels to start answers before the file is written.
    wait_until(lambda: path.exists() and path.stat().st_size, 60, f"the kernel's connection file {path}")
    return run_in(path, code)


def run_in(connection_file, code):
    """Run ``code`` in the kernel of ``connection_file``; (its reply content, its stdout)."""
    client = BlockingKernelClient(connection_file=str(connection_file))
    client.load_connection_file()
    # No heartbeat: with one, a beat missed for a second (a kernel the server is still
    # restarting, a loaded machine) reads as "Kernel died"; the timeouts below still fail
    # on a kernel that never answers.
    client.start_channels(hb=False)
    out = []
    try:
        client.wait_for_ready(timeout=60)
        reply = client.execute_interactive(
            code,
            timeout=60,
            output_hook=lambda m: out.append(m["content"]["text"]) if m["msg_type"] == "stream" else None,
        )
    finally:
        client.stop_channels()
    return reply["content"], "".join(out)


def probe(server, kernel_id, runtime_dir=None):
    content, out = run(server, kernel_id, PROBE, runtime_dir)
    assert content["status"] == "ok", content
    return content["execution_count"], json.loads(out)


def assert_alike(claimed, fresh, where, session_names):
    """A claimed kernel's facts (from :data:`PROBE`, run as each kernel's first cell) against
    a fresh kernel's for a notebook in the same folder; ``session_names``: what each should
    have as JPY_SESSION_NAME and ``__session__`` (None where the server sets none)."""
    (count_c, c), (count_f, f) = claimed, fresh
    assert count_c == count_f == 1
    assert c["cwd"] == c["pwd"] == f["cwd"] == where
    assert c["dh"] == f["dh"] and where in f["dh"][0] and len(f["dh"]) == 1  # repr: Path or str alike
    assert c["start"] == f["start"] == where
    assert c["path"] == f["path"]
    assert c["inputs"] == f["inputs"] and len(c["inputs"]) == 2  # '' and the probe: nothing before
    assert c["names"] == f["names"]
    assert c["modules"] == f["modules"]
    if session_names is None:
        assert "JPY_SESSION_NAME" not in c["env"] and c["session"] is None is f["session"]
    else:
        assert (c["env"]["JPY_SESSION_NAME"], f["env"]["JPY_SESSION_NAME"]) == session_names
        assert (c["session"], f["session"]) == session_names
    c_env = {k: v for k, v in c["env"].items() if k != "JPY_SESSION_NAME"}
    f_env = {k: v for k, v in f["env"].items() if k != "JPY_SESSION_NAME"}
    assert c_env == f_env


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes: only its parent has not reaped it yet.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def pool_server(jupyter_env, root, flavour, pool, *extra):
    return NotebookServer(
        jupyter_env, root, flavour=flavour, extra_args=[f"--NbextPkg.kernel_pool={json.dumps(pool)}", *extra]
    ).start()


@pytest.fixture(scope="module")
def warm(jupyter_env, notebook_root, flavour):
    """A pool of one python3 kernel, refilled half a second after a claim, with the idle
    culler culling every second."""
    srv = pool_server(
        jupyter_env,
        notebook_root,
        flavour,
        {"python3": 1},
        "--NbextPkg.kernel_pool_refill_delay=0.5",
        "--MappingKernelManager.cull_idle_timeout=2",
        "--MappingKernelManager.cull_interval=1",
    )
    yield srv
    srv.stop()


@pytest.fixture
def folder(warm, request):
    name = f"pool {request.node.name[:40]} é"
    (warm.root / name).mkdir(parents=True, exist_ok=True)
    yield name
    for s in warm.sessions():
        warm.api("DELETE", f"api/sessions/{s['id']}")


def test_the_pool_is_off_by_default(server, notebook_root):
    assert pool_status(server)["kernels"] == {}
    path = new_notebook(server, "plain", "pool off.ipynb")
    session, how = start_session(server, path)
    assert how == "fresh"
    assert [k["id"] for k in server.kernels()] == [session["kernel"]["id"]]
    server.api("DELETE", f"api/sessions/{session['id']}", expect=204)


def test_a_claimed_kernel_is_what_a_fresh_one_would_be(warm, folder):
    pooled = wait_ready(warm)[0]
    claimed_path = new_notebook(warm, folder, "claimed.ipynb")
    fresh_path = new_notebook(warm, folder, "fresh.ipynb")
    claimed, how = start_session(warm, claimed_path)
    assert how == "warm"
    assert claimed["kernel"]["id"] == pooled["kernel_id"]
    fresh, how = start_session(warm, fresh_path, route="api/sessions")
    assert how is None  # the stock route, untouched

    where = os.path.realpath(warm.root / folder)
    # The move ran in the kernel: the server's own working directory is where it started.
    assert os.readlink(f"/proc/{warm.proc.pid}/cwd") == os.path.realpath(warm.root)
    session_names = (
        None
        if warm.flavour == "notebook"
        else (  # notebook 6 sets none
            str(warm.root / claimed_path),
            str(warm.root / fresh_path),
        )
    )
    assert_alike(
        probe(warm, claimed["kernel"]["id"]), probe(warm, fresh["kernel"]["id"]), where, session_names
    )

    # Restarting the claimed kernel is an ordinary restart: same folder, same session name.
    warm.api("POST", f"api/kernels/{claimed['kernel']['id']}/restart", expect=200)
    count_r, r = probe(warm, claimed["kernel"]["id"])
    assert count_r == 1 and r["cwd"] == where
    assert r["session"] == (None if warm.flavour == "notebook" else str(warm.root / claimed_path))


def test_pooled_kernels_are_hidden_and_the_culler_leaves_them(warm, folder):
    pooled = wait_ready(warm)[0]
    # Not even its connection file is where the server's kernels are (jupyter console --existing
    # picks the newest there), until it is claimed.
    assert not (warm.jenv.runtime_dir / f"kernel-{pooled['kernel_id']}.json").exists()
    assert Path(pooled["connection_file"]).parent != warm.jenv.runtime_dir
    # An ordinary idle kernel is culled (cull_idle_timeout=2): proof that the culler runs.
    bait = warm.api("POST", "api/kernels", json={"name": "python3"}, expect=201).json()["id"]
    wait_until(lambda: bait not in {k["id"] for k in warm.kernels()}, 60, "the culler to cull an idle kernel")
    assert pooled["kernel_id"] not in {k["id"] for k in warm.kernels()}
    assert warm.sessions() == []
    still = ready_kernels(warm)
    assert [k["pid"] for k in still] == [pooled["pid"]] and pid_alive(pooled["pid"])


def test_the_pool_refills_and_never_serves_a_kernel_twice(warm, folder):
    first_pooled = wait_ready(warm)[0]
    first, how = start_session(warm, new_notebook(warm, folder, "one.ipynb"))
    assert how == "warm" and first["kernel"]["id"] == first_pooled["kernel_id"]
    second_pooled = wait_ready(warm, other_than={first_pooled["kernel_id"]})[0]
    assert second_pooled["pid"] != first_pooled["pid"]
    second, how = start_session(warm, new_notebook(warm, folder, "two.ipynb"))
    assert how == "warm" and second["kernel"]["id"] == second_pooled["kernel_id"]
    ids = [k["id"] for k in warm.kernels()]
    assert sorted(ids) == sorted([first["kernel"]["id"], second["kernel"]["id"]])
    # The claimed kernels are the user's now: the pool holds neither.
    assert {k["kernel_id"] for k in ready_kernels(warm)}.isdisjoint(ids)


def test_two_new_notebooks_at_once_get_two_kernels(warm, folder):
    wait_ready(warm)
    paths = [new_notebook(warm, folder, f"at once {i}.ipynb") for i in range(2)]
    results = [None, None]
    gate = threading.Barrier(2)

    def claim(i):
        gate.wait()
        results[i] = start_session(warm, paths[i])

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    kernels = [r[0]["kernel"]["id"] for r in results]
    assert len(set(kernels)) == 2
    assert sorted(r[1] for r in results) == ["fresh", "warm"]  # one warm kernel: the other starts as usual
    for i in range(2):
        count, facts = probe(warm, kernels[i])
        assert count == 1 and facts["cwd"] == os.path.realpath(warm.root / folder)


def test_a_pooled_kernel_killed_from_outside_is_replaced(warm, folder):
    pooled = wait_ready(warm)[0]
    os.kill(pooled["pid"], signal.SIGKILL)
    replacement = wait_ready(warm, other_than={pooled["kernel_id"]})[0]
    assert replacement["pid"] != pooled["pid"]
    session, how = start_session(warm, new_notebook(warm, folder, "after kill.ipynb"))
    assert how == "warm" and session["kernel"]["id"] == replacement["kernel_id"]
    assert probe(warm, session["kernel"]["id"])[0] == 1


def test_kernelspecs_the_pool_cannot_serve_are_refused_and_the_server_serves(
    jupyter_env, notebook_root, flavour, tmp_path
):
    bash = jupyter_env.data_dir / "kernels" / "nbext-not-python"
    bash.mkdir(parents=True, exist_ok=True)
    (bash / "kernel.json").write_text(
        json.dumps({"argv": ["bash", "-c", "sleep 60"], "display_name": "B", "language": "bash"})
    )
    srv = pool_server(
        jupyter_env,
        notebook_root,
        flavour,
        {"python3": 1, "nbext-no-such-kernel": 1, "nbext-not-python": 1, BROKEN_KERNEL: 1},
        "--NbextPkg.kernel_pool_refill_delay=0.1",
    )
    try:
        wait_ready(srv)
        status = wait_until(
            lambda: (s := pool_status(srv)["kernels"]) and s[BROKEN_KERNEL]["refused"] and s,
            60,
            "the broken kernelspec to be given up",
        )
        assert "no kernelspec of that name" in status["nbext-no-such-kernel"]["refused"]
        assert "only Python kernels" in status["nbext-not-python"]["refused"]
        assert "did not start three times" in status[BROKEN_KERNEL]["refused"]
        log = srv.log_text()
        for name in ("nbext-no-such-kernel", "nbext-not-python", BROKEN_KERNEL):
            assert f"no warm kernels for '{name}'" in log or f"warm '{name}' kernel did not start" in log, (
                name
            )
        # The server serves, and New notebook with the broken kernel fails as it would without a pool.
        path = new_notebook(srv, "plain", "refused.ipynb")
        session, how = start_session(srv, path)
        assert how == "warm"
        body = {"path": path + "x", "type": "notebook", "name": "", "kernel": {"name": BROKEN_KERNEL}}
        assert srv.api("POST", ROUTE, json=body).status_code == 500
    finally:
        srv.stop()
        bash.joinpath("kernel.json").unlink()


def test_stopping_the_server_stops_every_pooled_kernel(jupyter_env, notebook_root, flavour):
    srv = pool_server(jupyter_env, notebook_root, flavour, {"python3": 2})
    pooled = wait_ready(srv, count=2)
    files = [Path(k["connection_file"]) for k in pooled]
    assert all(f.exists() for f in files)
    os.kill(srv.proc.pid, signal.SIGTERM)  # the server alone: not its process group
    srv.proc.wait(30)
    # Shut down by the server (its connection files removed), not left to find out alone.
    assert not any(f.exists() for f in files)
    wait_until(lambda: not any(pid_alive(k["pid"]) for k in pooled), 10, "the pooled kernels to exit")
    srv.stop()


def test_a_pooled_kernel_someone_used_is_not_handed_out_as_it_is(warm, folder):
    pooled = wait_ready(warm)[0]
    # Someone who found the private connection file ran a cell in it.
    assert run_in(pooled["connection_file"], "planted = 1")[0]["status"] == "ok"
    path = new_notebook(warm, folder, "after use.ipynb")
    session, how = start_session(warm, path)
    assert session["kernel"]["id"] == pooled["kernel_id"]  # the same id, restarted as the notebook's
    content, out = run(warm, session["kernel"]["id"], "import os; print('planted' in dir(), os.getcwd())")
    assert content["execution_count"] == 1
    assert out.strip().split(" ", 1) == ["False", os.path.realpath(warm.root / folder)]
    assert "could not be moved" in warm.log_text()


def test_a_pooled_kernels_id_cannot_be_taken_through_the_stock_route(warm, folder):
    pooled = wait_ready(warm)[0]
    path = new_notebook(warm, folder, "stock id.ipynb")
    body = {
        "path": path,
        "type": "notebook",
        "name": "stock id.ipynb",
        "kernel": {"name": "python3", "id": pooled["kernel_id"]},
    }
    response = warm.api("POST", "api/sessions", json=body)
    if warm.flavour == "nbclassic":  # jupyter_server starts a kernel under the id it is given
        assert response.status_code == 409, response.text
    else:  # notebook 6 gives every new kernel its own id
        assert response.status_code == 201 and response.json()["kernel"]["id"] != pooled["kernel_id"]
    assert [k["kernel_id"] for k in ready_kernels(warm)] == [pooled["kernel_id"]]


@pytest.mark.parametrize(
    "body",
    [
        {"path": 5},
        {"path": ""},
        {"path": "x.ipynb", "kernel": "python3"},
        {"path": "x.ipynb", "kernel": {"name": 3}},
        {"path": "x.ipynb", "name": {"a": 1}},
        {"path": "x.ipynb", "type": ["notebook"]},
        [1, 2],
    ],
)
def test_the_session_route_refuses_malformed_bodies_with_a_sentence(warm, body):
    before = {k["kernel_id"] for k in wait_ready(warm)}
    response = warm.api("POST", ROUTE, json=body)
    assert response.status_code == 400
    assert response.json()["message"].endswith(".")
    # Nothing taken from the pool, no session made.
    assert before <= {k["kernel_id"] for k in ready_kernels(warm)} and warm.sessions() == []


def test_a_warm_kernel_past_its_age_is_replaced_by_a_fresh_one(jupyter_env, notebook_root, flavour):
    srv = pool_server(jupyter_env, notebook_root, flavour, {"python3": 1}, "--NbextPkg.kernel_pool_max_age=3")
    try:
        first = wait_ready(srv)[0]
        second = wait_ready(srv, other_than={first["kernel_id"]})[0]
        assert second["pid"] != first["pid"]
        wait_until(lambda: not pid_alive(first["pid"]), 30, "the expired kernel to stop")
        assert "s old; replacing it." in srv.log_text()
    finally:
        srv.stop()


def test_a_claim_on_jupyter_server_with_pending_kernels(jupyter_env, tmp_path):
    """jupyter_server's use_pending_kernels (its kernel starts are not waited for): the claimed kernel
    is moved all the same, and when it dies the server notices and drops it, as it does its own."""
    srv = pool_server(
        jupyter_env,
        tmp_path,
        "nbclassic",
        {"python3": 1},
        "--AsyncMultiKernelManager.use_pending_kernels=True",
        "--KernelRestarter.restart_limit=0",
    )
    try:
        wait_ready(srv)
        (tmp_path / "pending").mkdir()
        # What the server does with a kernel of its own that dies: dropped (the control).
        # Its start is the server's own, not awaited: on a loaded machine the kernel can
        # die starting (another process took a port it was given) and, with no restarts,
        # never answer. Once more with a new one, then that is a failure.
        for attempt in range(2):
            name = f"fresh {attempt}.ipynb"
            fresh, _ = start_session(srv, new_notebook(srv, "pending", name), route="api/sessions")
            try:
                _, out = run(srv, fresh["kernel"]["id"], "import os; print(os.getpid())")
                break
            except RuntimeError:
                if attempt:
                    raise
        os.kill(int(out), signal.SIGKILL)
        wait_until(
            lambda: fresh["kernel"]["id"] not in {k["id"] for k in srv.kernels()},
            60,
            "the server to drop its own dead kernel",
        )
        session, how = start_session(srv, new_notebook(srv, "pending", "p.ipynb"))
        assert how == "warm"
        count, facts = probe(srv, session["kernel"]["id"])
        assert count == 1 and facts["cwd"] == os.path.realpath(tmp_path / "pending")
        content, out = run(srv, session["kernel"]["id"], "import os; print(os.getpid())")
        os.kill(int(out), signal.SIGKILL)
        wait_until(
            lambda: session["kernel"]["id"] not in {k["id"] for k in srv.kernels()},
            60,
            "the server to drop the dead kernel",
        )
    finally:
        srv.stop()
