"""The environment a bundle's notebook runs in, asked of that environment itself:
which installed distributions provide the modules it imports (requirements.txt), and
which Python it is (runtime.txt, the manifest's ``python``).

The server's own environment is often not the notebook's: under JupyterHub and conda
a kernelspec names an interpreter of its own. So the kernelspec's interpreter is asked,
by running ``PROBE`` with it (a short process, with a time limit, in an empty folder so
that nothing of the user's shadows the standard library). The notebook's running kernel
is not asked: code run there would show in its history and execution count, wait behind
a busy cell, and there is none for a notebook that is not open. Only when the
kernelspec is not a Python one that can be found, or its interpreter fails, is the
server's own interpreter asked; the manifest says which (``requirements_from``).

Imports neither tornado nor notebook.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from .digests import Memo

# Runs in the kernel's interpreter (Python 3.8 and later, or with the importlib_metadata
# backport; without either it says so and exits 3): the modules asked on stdin,
# each as standard library, provided by installed distributions (name, version), or
# neither; and what Python this is. Printed after a marker, so that whatever a
# sitecustomize prints first is not taken for the answer.
PROBE = r"""
import json, os, platform, site, sys
asked = json.loads(sys.stdin.read())
try:
    from importlib import metadata
except ImportError:
    try:
        import importlib_metadata as metadata
    except ImportError:
        sys.stderr.write("no importlib.metadata here (Python before 3.8)\n")
        sys.exit(3)

def provided():
    # Before 3.11 the standard library's packages_distributions reads top_level.txt
    # only, which wheels built by hatchling, flit or poetry do not carry.
    if sys.version_info >= (3, 11) and metadata.__name__ == "importlib.metadata":
        return metadata.packages_distributions()
    found = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        tops = (dist.read_text("top_level.txt") or "").split()
        if not tops:
            for f in dist.files or ():
                parts = f.parts
                if len(parts) > 1 and not parts[0].endswith((".dist-info", ".egg-info")):
                    tops.append(parts[0])
                elif len(parts) == 1 and f.suffix == ".py":
                    tops.append(parts[0][:-3])
        for top in set(tops):
            found.setdefault(top, []).append(name)
    return found

def stdlib(name):
    names = getattr(sys, "stdlib_module_names", None)
    if names is not None:
        return name in names or name in sys.builtin_module_names
    if name in sys.builtin_module_names:
        return True
    import importlib.util, sysconfig
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    origin = getattr(spec, "origin", None) or ""
    base = sysconfig.get_paths()["stdlib"]
    return origin.startswith(base) and "-packages" not in origin

by_module = provided()
answer = {}
for module in asked:
    if stdlib(module):
        answer[module] = "stdlib"
        continue
    pins = []
    for dist in by_module.get(module) or ():
        try:
            pins.append([dist, metadata.version(dist)])
        except Exception:
            pass
    answer[module] = pins
out = {
    "modules": answer,
    "python": {"version": platform.python_version(),
               "implementation": platform.python_implementation(),
               "platform": sys.platform, "machine": platform.machine()},
    # Watched for changes, folders that do not exist yet too (a first pip install --user).
    "paths": [p for p in sys.path if p] + [site.getusersitepackages()],
}
sys.stdout.write("\nNBEXT_PKG_PROBE " + json.dumps(out) + "\n")
"""
_MARK = "NBEXT_PKG_PROBE "
MAX_IMPORTS = 1000
MAX_OUTPUT = 4 * 1024**2  # of the probe's output, each stream
# What the probe of one interpreter said, until a folder on its sys.path changes
# (installing or removing a distribution changes its site-packages folder).
PROBES = Memo(max_entries=64, max_bytes=4 * 1024**2, ttl=3600)


class ProbeFailed(Exception):
    """The interpreter could not say (missing, too slow, no answer)."""


@dataclass
class Environment:
    """What one interpreter said: ``modules`` (module -> "stdlib" or [[dist, version]]),
    ``python`` (version, implementation, platform, machine) and ``source`` ("kernel" or
    "server")."""

    modules: dict
    python: dict
    source: str
    kernelspec: str = None

    def requirements(self, imports):
        """requirements.txt's text: third-party imports pinned to the versions installed
        in this environment; the imports nothing installed provides stay comments."""
        pinned, unknown = {}, []
        for module in imports:
            found = self.modules.get(module)
            if found == "stdlib" or module.startswith("_"):
                continue
            if not found:
                unknown.append(module)
                continue
            for dist, version in found:
                pinned[dist.lower()] = f"{dist}=={version}"
        where = (
            f"the kernel's environment ({self.kernelspec})"
            if self.source == "kernel"
            else "the notebook server's environment"
        )
        lines = [f"# Imported by the notebook; versions as installed in {where} where it was bundled."]
        lines += [pinned[key] for key in sorted(pinned)]
        lines += [f"# {module}: imported, but no installed distribution provides it" for module in unknown]
        return "\n".join(lines) + "\n"

    def runtime(self):
        """runtime.txt's text (``python-3.11``, as repo2docker and Binder read it), or None
        for a Python that is not CPython."""
        version = self.python.get("version") or ""
        if self.python.get("implementation") != "CPython" or not re.match(r"\d+\.\d+", version):
            return None
        return "python-" + ".".join(version.split(".")[:2]) + "\n"


def is_python(kernelspec, language_info):
    """Whether the notebook says it runs Python (its kernelspec's language, else the
    language its kernel reported)."""
    for meta in (kernelspec, language_info):
        if isinstance(meta, dict):
            language = meta.get("language") if meta is kernelspec else meta.get("name")
            if isinstance(language, str) and language:
                return language.lower() == "python"
    return True  # no word at all: the server's own default kernel is Python


KERNEL_MODULES = ("ipykernel_launcher", "ipykernel")


def interpreter(spec):
    """The interpreter that runs a kernelspec's IPython kernel, or None: the word before
    ``-m ipykernel_launcher`` (or ``-m ipykernel``) in its argv, found as the kernel manager
    would find a first word (``python``, ``python3`` and ``python3.X`` first mean the
    server's own, as jupyter_client decides). A launcher that starts the kernel's Python
    itself (nb_conda_kernels' runner names it further on) counts as that Python; a
    kernelspec that does not run ipykernel this way (a shell script) gives None: nothing
    else is run with the probe."""
    argv = [a for a in (getattr(spec, "argv", None) or ()) if isinstance(a, str)]
    at = next((i for i in range(1, len(argv)) if argv[i - 1] == "-m" and argv[i] in KERNEL_MODULES), None)
    if at is None or at < 2:
        return None
    word = argv[at - 2].replace("{prefix}", sys.prefix)
    word = word.replace("{resource_dir}", getattr(spec, "resource_dir", "") or "")
    env = dict(os.environ, **(getattr(spec, "env", None) or {}))
    if at - 2 == 0:
        if word in {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}:
            return sys.executable
        found = word if os.path.isabs(word) else shutil.which(word, path=env.get("PATH"))
    elif os.path.isabs(word):
        found = word
    elif "nb_conda_kernels.runner" in argv[:at] and argv.index("nb_conda_kernels.runner") + 2 < at:
        # python -m nb_conda_kernels.runner <conda prefix> <environment> <its kernel's argv>:
        # a bare word there is found in that environment, as the runner activates it.
        folder = argv[argv.index("nb_conda_kernels.runner") + 2]
        found = shutil.which(word, path=os.pathsep.join([os.path.join(folder, "bin"), folder]))
    else:
        return None  # a bare word some launcher resolves its own way: not guessed
    if (
        not found
        or not os.access(found, os.X_OK)
        or not re.match(r"(python|pypy)[\d.]*(\.exe)?$", os.path.basename(found))
    ):
        return None
    return found


def _identity(paths):
    found = []
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            found.append((path, None))
            continue
        found.append((path, info.st_mtime_ns, info.st_ino))
    return tuple(found)


def probe(python, modules, env=None, timeout=10.0, cancel=None):
    """What ``python`` says about ``modules`` (remembered until its sys.path changes)."""
    modules = sorted(set(modules))[:MAX_IMPORTS]
    key = ("probe", python, tuple(sorted((env or {}).items())), tuple(modules))
    known = PROBES.get(key)
    if known is not None and _identity(known[1]) == known[2] and _identity([python]) == known[3]:
        return known[0]
    before = _identity([python])
    with tempfile.TemporaryDirectory(prefix="nbext_pkg-probe-") as empty:
        returncode, out, err = _run(python, json.dumps(modules), empty, env, timeout, cancel)
    lines = [line for line in out.splitlines() if line.startswith(_MARK)]
    if returncode != 0 or not lines:
        said = (err.strip().splitlines() or ["no answer"])[-1][:300]
        raise ProbeFailed(f"{python} exited with {returncode}: {said}")
    try:
        answer = json.loads(lines[-1][len(_MARK) :])
        found = (answer["modules"], answer["python"])
        paths = [p for p in answer["paths"] if isinstance(p, str)]
    except (ValueError, KeyError, TypeError) as error:
        raise ProbeFailed(f"{python} answered something else: {error}") from None
    PROBES.put(key, (found, paths, _identity(paths), before), len(lines[-1]) + 200)
    return found


def _run(python, stdin, cwd, env, timeout, cancel=None):
    """(exit status, stdout, stderr) of PROBE run by ``python``, in a process group of its
    own that is ended whole past ``timeout``, past MAX_OUTPUT bytes of output, or when
    ``cancel`` (a threading.Event) is set. The question goes in as the answer comes out,
    so an interpreter that never reads it cannot hold the caller either."""
    import selectors
    import signal
    import time

    try:
        child = subprocess.Popen(
            [python, "-c", PROBE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=dict(os.environ, **(env or {})),
            start_new_session=True,
        )
    except OSError as error:
        raise ProbeFailed(f"{python} could not run: {error}") from None
    try:
        question = memoryview(stdin.encode("utf-8"))
        got = {child.stdout: bytearray(), child.stderr: bytearray()}
        deadline = time.monotonic() + timeout
        os.set_blocking(child.stdin.fileno(), False)
        with selectors.DefaultSelector() as sel:
            for stream in got:
                sel.register(stream, selectors.EVENT_READ)
            sel.register(child.stdin, selectors.EVENT_WRITE)
            while sel.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ProbeFailed(f"{python} did not answer within {timeout:g} s")
                if cancel is not None and cancel.is_set():
                    raise ProbeFailed("the bundle was cancelled")
                for key, _ in sel.select(min(left, 0.25)):
                    if key.fileobj is child.stdin:
                        try:
                            question = question[os.write(child.stdin.fileno(), question[:65536]) :]
                        except BlockingIOError:
                            continue
                        except BrokenPipeError:
                            question = question[:0]
                        if not question:
                            sel.unregister(child.stdin)
                            child.stdin.close()
                        continue
                    data = os.read(key.fileobj.fileno(), 65536)
                    if not data:
                        sel.unregister(key.fileobj)
                        continue
                    got[key.fileobj] += data
                    if len(got[key.fileobj]) > MAX_OUTPUT:
                        raise ProbeFailed(f"{python} said more than {MAX_OUTPUT} bytes")
        returncode = child.wait(max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        raise ProbeFailed(f"{python} did not answer within {timeout:g} s") from None
    finally:
        # The whole group: a grandchild that holds the pipes goes too.
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except OSError:
            pass
        child.wait()
        for stream in (child.stdin, child.stdout, child.stderr):
            if not stream.closed:
                stream.close()
    return (
        returncode,
        got[child.stdout].decode("utf-8", "replace"),
        got[child.stderr].decode("utf-8", "replace"),
    )


def of_notebook(imports, kernelspec, language_info, specs, timeout=10.0, log=None, cancel=None):
    """The Environment to pin ``imports`` from: the notebook's kernelspec's (``specs``:
    a callable, kernelspec name -> spec with argv/env/language, or None), else the
    server's; ProbeFailed when neither could say."""
    name = kernelspec.get("name") if isinstance(kernelspec, dict) else None
    name = name if isinstance(name, str) and name else None
    if is_python(kernelspec, language_info) and name and specs is not None:
        try:
            spec = specs(name)
        except Exception as error:  # no such kernelspec here, an unreadable kernel.json
            spec = None
            if log is not None:
                log.info(
                    "nbext_pkg: kernelspec %s not found (%s): the server's environment is asked instead",
                    name,
                    error,
                )
        python = interpreter(spec) if spec is not None else None
        language = (getattr(spec, "language", "") or "").lower()
        if python is not None and language in ("python", ""):
            try:
                modules, about = probe(python, imports, getattr(spec, "env", None) or {}, timeout, cancel)
                return Environment(modules, about, "kernel", name)
            except ProbeFailed as error:
                if log is not None:
                    log.warning(
                        "nbext_pkg: the kernel's interpreter for %s could not list its "
                        "packages (%s): the server's environment is asked instead",
                        name,
                        error,
                    )
    modules, about = probe(sys.executable, imports, None, timeout, cancel)
    return Environment(modules, about, "server")


def default_specs():
    """The kernelspec lookup of this environment's jupyter_client (the exporter's and the
    command line's; the server hands over its own kernel spec manager's)."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager
    except ImportError:  # pragma: no cover - every notebook server has jupyter_client
        return None
    return KernelSpecManager().get_kernel_spec
