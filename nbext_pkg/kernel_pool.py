"""Warm kernels for New notebook: an opt-in pool (``c.NbextPkg.kernel_pool``).

A pooled kernel is made by the server's own kernel manager factory, so it is
the very kind of kernel the server would start, but it stays outside the
server's MultiKernelManager until it is claimed: it has no session, is not in
``/api/kernels`` or the Running tab, is never seen by the idle culler, and its
start does not count as the user's activity (which JupyterHub's idle culler
reads). A claim goes through the MultiKernelManager's own start path, with one
seam (``pre_start_kernel`` hands over the pooled manager, whose start then
moves the running kernel instead of launching one), so every piece of the
server's bookkeeping is done exactly as for a fresh kernel, on notebook 6 and
on jupyter_server alike.

Moving the kernel is one silent execution (no history, no execution count, no
name left in the user's namespace): the working directory, the environment a
fresh kernel for that notebook would have been launched with, IPython's
``__session__`` and directory history. Only Python kernels can be moved so;
any other language is refused at start.
"""

import asyncio
import atexit
import contextvars
import inspect
import os
import shutil
import signal
import tempfile
import time

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.provisioning.provisioner_base import KernelProvisionerBase

# Set by the session route around its create_session call: the pooled kernel that
# this request's kernel start should use (None: start one as usual).
CLAIM = contextvars.ContextVar("nbext_pkg_kernel_claim", default=None)

MOST_PER_SPEC = 10

# Source code sent to the claimed kernel and run there, in the kernel's own process (never
# in the server's: its chdir and environment changes are the kernel's), with ARGS bound; it
# defines nothing in the user's namespace.
MOVE = r"""
import builtins, os, sys
cwd, old, new, start = ARGS["cwd"], ARGS["old"], ARGS["new"], ARGS["start"]
shell = getattr(builtins, "get_ipython", lambda: None)()
if shell is not None and shell.execution_count != 1:
    raise RuntimeError("this kernel has run cells: it is not a fresh one")
for key in set(old) | set(new):
    # What the kernel set for itself at start (IPython's PAGER, say) stays; what it was
    # launched with becomes what a fresh kernel for this notebook is launched with.
    if os.environ.get(key) == old.get(key):
        if key in new:
            os.environ[key] = new[key]
        else:
            os.environ.pop(key, None)
os.chdir(cwd)
sys.path[:] = [cwd if entry == start else entry for entry in sys.path]
if shell is not None:
    if new.get("JPY_SESSION_NAME"):
        shell.user_ns["__session__"] = new["JPY_SESSION_NAME"]
    else:
        shell.user_ns.pop("__session__", None)
    history = getattr(shell.history_manager, "dir_hist", None)
    if history is not None:  # IPython 9 keeps Paths there, older ones strings
        history[:] = [type(entry)(os.getcwd()) for entry in history[:1]] or [os.getcwd()]
    shell.starting_dir = os.getcwd()
"""


def refusal(kernel_spec_manager, name, count):
    """Why ``count`` warm kernels of kernelspec ``name`` cannot be kept, or None."""
    try:
        spec = kernel_spec_manager.get_kernel_spec(name)
    except Exception as error:  # NoSuchKernel, or a kernel.json that does not parse
        return f"no kernelspec of that name can be read ({error})"
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        return f"{count!r} is not a number of kernels"
    if (spec.language or "").lower() != "python":
        return (
            f"its language is {spec.language or 'not given'}: only Python kernels can be moved "
            "to the notebook's folder once started"
        )
    provisioner = ((spec.metadata or {}).get("kernel_provisioner") or {}).get(
        "provisioner_name", "local-provisioner"
    )
    if provisioner != "local-provisioner":
        return f"it is started by the {provisioner} provisioner, not on this machine"
    return None


class Warm:
    """One pooled kernel: its manager, id, client and when it became ready."""

    def __init__(self, name, kernel_id, km, spec, start_dir):
        self.name = name
        self.kernel_id = kernel_id
        self.km = km
        self.spec = spec
        self.start_dir = start_dir
        self.client = None
        self.ready_at = None
        self.launch_env = None
        self.autorestart = km.autorestart
        self.claimed = False

    @property
    def pid(self):
        provisioner = getattr(self.km, "provisioner", None)
        return getattr(provisioner, "pid", None)

    def age(self):
        return time.monotonic() - self.ready_at if self.ready_at is not None else 0.0


def fingerprint(spec):
    """What must not change between pooling a kernel and handing it out."""
    return (
        tuple(spec.argv),
        tuple(sorted((spec.env or {}).items())),
        spec.resource_dir,
        (spec.language or "").lower(),
        repr(sorted((spec.metadata or {}).items())),
    )


def memory_of(pid):
    """{rss, pss} in bytes of a process (Linux /proc), or {} where not readable."""
    found = {}
    for name, key in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
        try:
            with open(f"/proc/{pid}/{name}") as f:
                for line in f:
                    if line.startswith(key):
                        found["pss" if key == "Pss:" else "rss"] = int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return found


async def launch_env(km, env):
    """The environment a kernel of ``km``'s spec is launched with when asked for ``env``
    (None: the server's own): the provisioner's substitutions and clean-up, and the
    launcher's parent pid, computed by the same code the launch runs."""
    kwargs = await KernelProvisionerBase.pre_launch(
        km.provisioner, env=dict(env if env is not None else os.environ)
    )
    result = dict(kwargs["env"])
    result["JPY_PARENT_PID"] = str(os.getpid())
    return result


class KernelPool:
    """Keeps ``sizes[name]`` started, idle kernels of each kernelspec ready to claim."""

    def __init__(
        self,
        kernel_manager,
        sizes,
        log,
        refill_delay=5.0,
        max_age=3600.0,
        start_timeout=60.0,
        check_interval=2.0,
    ):
        self.mkm = kernel_manager
        self.log = log
        self.refill_delay = refill_delay
        self.max_age = max_age
        self.start_timeout = start_timeout
        self.check_interval = check_interval
        self.sizes = {}
        self.refused = {}
        self.ready = {}
        self.starting = {}
        self.failures = {}
        self._refill_at = {}
        self._tasks = set()
        self._unclaimed = set()  # every Warm from its creation until claimed or discarded
        self._stopped = False
        self._checking = False
        self._ticker = None
        self._dir = None
        self._own_pre_start = None
        self._own_shutdown_all = None
        self._accept(sizes)

    # -- configuration ----------------------------------------------------------------

    def _accept(self, sizes):
        ksm = self.mkm.kernel_spec_manager
        for name, count in sorted((sizes or {}).items()):
            reason = refusal(ksm, name, count)
            if reason is not None:
                self.refused[name] = reason
                self.log.warning(
                    "nbext_pkg: no warm kernels for %r: %s; New notebook starts its kernels as usual.",
                    name,
                    reason,
                )
                continue
            if count > MOST_PER_SPEC:
                self.log.warning(
                    "nbext_pkg: kernel_pool asks for %d warm %r kernels; keeping %d.",
                    count,
                    name,
                    MOST_PER_SPEC,
                )
                count = MOST_PER_SPEC
            if count:
                self.sizes[name] = count
                self.ready[name] = []
                self.starting[name] = 0
                self.failures[name] = 0

    # -- life cycle -------------------------------------------------------------------

    def start(self):
        """Hook into the kernel manager and begin filling; call on the server's loop."""
        if not self.sizes:
            return
        self._dir = os.path.realpath(tempfile.mkdtemp(prefix="nbext_pkg-pool-"))
        self._own_pre_start = self.mkm.pre_start_kernel
        self.mkm.pre_start_kernel = self._pre_start_kernel
        own = self._own_shutdown_all = self.mkm.shutdown_all
        if inspect.iscoroutinefunction(own):

            async def shutdown_all(*args, **kwargs):
                await self.stop()
                return await own(*args, **kwargs)
        else:

            def shutdown_all(*args, **kwargs):
                self.stop_sync()
                return own(*args, **kwargs)

        self.mkm.shutdown_all = shutdown_all
        atexit.register(self.stop_sync)
        from tornado.ioloop import PeriodicCallback

        self._ticker = PeriodicCallback(self._tick, self.check_interval * 1000)
        self._ticker.start()
        self.log.info(
            "nbext_pkg: keeping warm kernels: %s", ", ".join(f"{n} x{c}" for n, c in self.sizes.items())
        )
        self._tick()

    def _spawn(self, coro):
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _tick(self):
        """Fill what is missing (after the refill delay), drop dead and expired kernels."""
        if self._stopped:
            return
        now = time.monotonic()
        for name, wanted in self.sizes.items():
            if self.failures[name] >= 3:
                continue
            have = len(self.ready[name]) + self.starting[name]
            if have < wanted and now >= self._refill_at.get(name, 0):
                for _ in range(wanted - have):
                    self.starting[name] += 1
                    self._spawn(self._start_one(name))
        if not self._checking:  # one check at a time: a slow one is not piled upon
            self._spawn(self._check())

    async def _check(self):
        self._checking = True
        try:
            await self._check_once()
        finally:
            self._checking = False

    async def _check_once(self):
        for name, kernels in self.ready.items():
            for warm in list(kernels):
                try:
                    alive = await maybe_await(warm.km.is_alive())
                except Exception:
                    alive = False
                expired = self.max_age and warm.age() > self.max_age
                if warm in kernels and (not alive or expired):
                    kernels.remove(warm)
                    if alive:
                        self.log.info(
                            "nbext_pkg: a warm %r kernel was %d s old; replacing it.", name, warm.age()
                        )
                    else:
                        self.log.warning(
                            "nbext_pkg: a warm %r kernel (pid %s) died; replacing it.", name, warm.pid
                        )
                    await self._discard(warm)

    async def _start_one(self, name):
        warm = None
        try:
            spec = self.mkm.kernel_spec_manager.get_kernel_spec(name)
            km, name, kernel_id = self._own_pre_start(name, {})
            # Its connection file in the pool's private folder until it is claimed: nothing
            # (jupyter console --existing, say) can reach a kernel that is not anyone's yet.
            km.connection_file = os.path.join(self._dir, f"kernel-{kernel_id}.json")
            warm = Warm(name, kernel_id, km, fingerprint(spec), self._dir)
            self._unclaimed.add(warm)
            # A pooled kernel is restarted by nobody: if it dies, the pool replaces it.
            km.autorestart = False
            env = {k: v for k, v in os.environ.items() if k != "JPY_SESSION_NAME"}
            await asyncio.wait_for(
                maybe_await(km.start_kernel(kernel_id=kernel_id, cwd=self._dir, env=env)), self.start_timeout
            )
            warm.launch_env = await launch_env(km, env)
            client = warm.client = AsyncKernelClient(
                **km.get_connection_info(session=True), connection_file=km.connection_file, parent=km
            )
            client.start_channels(hb=False, stdin=False, control=False)
            await asyncio.wait_for(
                maybe_await(client.wait_for_ready(timeout=self.start_timeout)), self.start_timeout
            )
        except asyncio.CancelledError:
            if warm is not None:
                kill(warm, self.log)
                self._unclaimed.discard(warm)
            raise
        except Exception as error:
            self.starting[name] -= 1
            self.failures[name] += 1
            given_up = self.failures[name] >= 3
            self.log.warning(
                "nbext_pkg: a warm %r kernel did not start (%s)%s",
                name,
                error,
                "; no more tries: New notebook starts these kernels as usual."
                if given_up
                else "; trying again.",
            )
            if given_up:
                self.refused[name] = f"it did not start three times in a row (last: {error})"
            if warm is not None:
                await self._discard(warm)
            return
        self.starting[name] -= 1
        if self._stopped:
            await self._discard(warm)
            return
        self.failures[name] = 0
        warm.ready_at = time.monotonic()
        self.ready[name].append(warm)
        self.log.debug("nbext_pkg: warm %r kernel %s ready (pid %s)", name, warm.kernel_id, warm.pid)

    async def _discard(self, warm):
        self._unclaimed.discard(warm)
        close_client(warm)
        try:
            await maybe_await(warm.km.shutdown_kernel(now=True))
        except Exception as error:
            self.log.warning("nbext_pkg: could not stop a warm kernel (pid %s): %s", warm.pid, error)
            kill(warm, self.log)

    async def stop(self):
        """Stop every pooled kernel (the server is stopping)."""
        self._stopped = True
        if self._ticker is not None:
            self._ticker.stop()
        for group in self.ready.values():
            group.clear()
        for task in list(self._tasks):
            task.cancel()
        # Ready ones and those still starting: none may outlive the server.
        await asyncio.gather(*(self._discard(w) for w in list(self._unclaimed)), return_exceptions=True)
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    def stop_sync(self):
        """Stop every pooled kernel without the loop: notebook 6's cleanup runs after its loop
        stopped, and jupyter_server may end its loop before its own cleanup reaches the
        kernels (then this runs at exit). Each kernel is killed with its process group and
        its connection file removed, as an immediate shutdown does."""
        self._stopped = True
        if self._ticker is not None:
            self._ticker.stop()
        for group in self.ready.values():
            group.clear()
        for warm in list(self._unclaimed):
            kill(warm, self.log)
        self._unclaimed.clear()
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    # -- claiming ---------------------------------------------------------------------

    def take(self, name):
        """A ready kernel of kernelspec ``name``, no longer in the pool, or None.

        Synchronous: two requests at once can never get the same kernel."""
        kernels = self.ready.get(name)
        if not kernels or self._stopped:
            return None
        try:
            spec = self.mkm.kernel_spec_manager.get_kernel_spec(name)
        except Exception:
            spec = None
        warm = kernels.pop(0)
        if spec is None or fingerprint(spec) != warm.spec:
            # The kernelspec changed since this kernel started: it is not what a fresh one
            # would be any more.
            self.log.info("nbext_pkg: the %r kernelspec changed; its warm kernels are replaced.", name)
            stale = [warm] + kernels[:]
            kernels.clear()
            for each in stale:
                self._spawn(self._discard(each))
            return None
        self._refill_at[name] = time.monotonic() + self.refill_delay
        if self._ticker is not None:
            from tornado.ioloop import IOLoop

            IOLoop.current().call_later(self.refill_delay + 0.05, self._tick)
        return warm

    def give_back(self, warm):
        """A kernel taken but not used (the request ended before its start)."""
        if warm.claimed:
            return
        full = len(self.ready[warm.name]) + self.starting[warm.name] >= self.sizes[warm.name]
        if self._stopped or full:
            self._spawn(self._discard(warm))
        else:
            self.ready[warm.name].insert(0, warm)

    def _pre_start_kernel(self, kernel_name, kwargs):
        warm = CLAIM.get()
        wanted = kernel_name or self.mkm.default_kernel_name
        asked = kwargs.get("kernel_id")
        if asked is not None and any(w.kernel_id == asked for w in self._unclaimed if w is not warm):
            from jupyter_client.multikernelmanager import DuplicateKernelError

            raise DuplicateKernelError(f"Kernel already exists: {asked}")
        if warm is not None and not warm.claimed and wanted == warm.name and not self._stopped:
            warm.claimed = True
            self._unclaimed.discard(warm)
            kwargs.pop("kernel_id", None)
            # The claim's own "ready": a server that does not wait for kernel starts
            # (use_pending_kernels) waits on it before it registers its callbacks on the
            # kernel's restarter, which exists only once the kernel is moved.
            warm.km._ready = new_future()
            warm.km.start_kernel = self._mover(warm)
            return warm.km, warm.name, warm.kernel_id
        return self._own_pre_start(kernel_name, kwargs)

    def _mover(self, warm):
        """The pooled manager's start_kernel for its one claim: move, or start afresh."""
        km = warm.km

        async def move(**kw):
            ready = km._ready
            try:
                await moved(**kw)
            except BaseException as error:
                if not ready.done():
                    ready.set_exception(error)
                raise
            if not ready.done():
                ready.set_result(None)

        async def moved(**kw):
            del km.start_kernel  # from now on, an ordinary manager: restarts launch as usual
            kw.pop("kernel_id", None)
            # Its connection file where the server keeps its kernels' (Session info names it).
            target = os.path.join(self.mkm.connection_dir, f"kernel-{warm.kernel_id}.json")
            try:
                os.replace(km.connection_file, target)
                km.connection_file = target
                others = set(kw) - {"cwd", "env"}
                if others:
                    raise RuntimeError(
                        f"the server launches kernels with {', '.join(sorted(others))}, "
                        "which a started kernel cannot take"
                    )
                if not await maybe_await(km.is_alive()):
                    raise RuntimeError("it is no longer running")
                await asyncio.wait_for(self._move(warm, kw), 5)
            except Exception as error:
                self.log.warning(
                    "nbext_pkg: a warm kernel could not be moved to %s (%s); starting a fresh one instead.",
                    kw.get("cwd"),
                    error,
                )
                close_client(warm)
                km._launch_args = dict(kw)
                km.autorestart = warm.autorestart
                # A restart with the notebook's launch arguments: same id, ports and file.
                await maybe_await(km.restart_kernel(now=True))
                return
            km._launch_args = dict(kw)
            km.autorestart = warm.autorestart
            km.start_restarter()

        return move

    async def _move(self, warm, kw):
        cwd = os.path.realpath(kw.get("cwd") or os.getcwd())
        new = await launch_env(warm.km, kw.get("env"))
        # What the interpreter read when it started cannot be changed afterwards.
        startup = sorted(
            k
            for k in set(new) | set(warm.launch_env)
            if new.get(k) != warm.launch_env.get(k) and k.startswith(("PYTHON", "LD_"))
        )
        if startup:
            raise RuntimeError(f"the notebook's kernel would start with other {', '.join(startup)}")
        args = {"cwd": cwd, "old": warm.launch_env, "new": new, "start": warm.start_dir}
        code = (
            f"exec(compile({MOVE!r}, '<nbext_pkg>', 'exec'), "
            f"{{'__builtins__': __builtins__, 'ARGS': {args!r}}})"
        )
        client = warm.client
        msg_id = client.execute(
            code, silent=True, store_history=False, allow_stdin=False, stop_on_error=False
        )
        while True:
            reply = await maybe_await(client.get_shell_msg(timeout=5))
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        close_client(warm)
        content = reply["content"]
        if content.get("status") != "ok":
            raise RuntimeError(f"{content.get('ename')}: {content.get('evalue')}")

    # -- reporting --------------------------------------------------------------------

    def status(self):
        """What the pool holds, for the status route and the doctor."""
        report = {}
        for name in sorted(set(self.sizes) | set(self.refused)):
            ready = [
                {
                    "kernel_id": w.kernel_id,
                    "pid": w.pid,
                    "age": round(w.age(), 1),
                    "connection_file": w.km.connection_file,
                    **memory_of(w.pid),
                }
                for w in self.ready.get(name, [])
            ]
            report[name] = {
                "wanted": self.sizes.get(name, 0),
                "ready": ready,
                "starting": self.starting.get(name, 0),
                "refused": self.refused.get(name),
            }
        return {"kernels": report, "refill_delay": self.refill_delay, "max_age": self.max_age}


def close_client(warm):
    """Stop the pool's client of a kernel and free its own zmq context."""
    client, warm.client = warm.client, None
    if client is not None:
        client.stop_channels()
        if getattr(client, "_created_context", False):
            client.context.destroy(linger=0)


def kill(warm, log):
    """End a pooled kernel at once, from any thread, loop or none: its process group, then its
    connection file."""
    close_client(warm)
    process = getattr(getattr(warm.km, "provisioner", None), "process", None)
    if process is not None and process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            process.kill()
        try:
            process.wait(5)
        except Exception as error:
            log.warning("nbext_pkg: a warm kernel (pid %s) did not end: %s", process.pid, error)
    try:
        warm.km.cleanup_connection_file()
        warm.km.cleanup_ipc_files()
    except Exception as error:
        log.warning("nbext_pkg: a warm kernel's files could not be removed: %s", error)


def new_future():
    """A future of the kind jupyter_client's managers keep as ``ready``."""
    try:
        from jupyter_client.manager import _get_future
    except ImportError:  # another jupyter_client: an asyncio future on the running loop
        return asyncio.get_event_loop().create_future()
    return _get_future()


async def maybe_await(value):
    if inspect.isawaitable(value):
        return await value
    return value
